"""WSGI entry point: ``gunicorn wsgi:app`` serves the API against ``ALOFT_DATABASE_URL``."""

from aloft.app import create_app

app = create_app()
