"""The hosted pages (server-rendered, Jinja2) and the browser session they share (SSO)."""
