"""The Django/DRF adapter: add "rozitech_auth.django" to INSTALLED_APPS."""
