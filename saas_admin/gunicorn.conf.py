"""gunicorn settings of the SaaS Admin's production server, read by `gunicorn` started in
this folder (the Procfile's `saas`). Command-line options override them.

The request head is bounded by gunicorn itself, not only by a proxy in front: a request
line over `limit_request_line` gets 414, more than `limit_request_fields` headers or one
over `limit_request_field_size` bytes get 431, before anything more is read. (These are
gunicorn's defaults, written down so that no one raises them to 0, "unlimited", unawares;
the auth server's limits are MAX_HEADER_BYTES and 100 fields, see auth_server/http_server.py.)
"""

limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# No control socket: every gunicorn on one host would use the same ~/.gunicorn/gunicorn.ctl,
# two replicas replacing (and on exit removing) each other's (the Procfile says it too).
control_socket_disable = True
