"""The SaaS Admin's local users: mirrors of the auth server's users."""
