"""WSGI entry point: gunicorn --chdir examples/django --bind 127.0.0.1:8000 exampleapp.wsgi"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleapp.settings")
application = get_wsgi_application()
