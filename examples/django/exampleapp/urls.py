"""The app's URLs. Caddy decides who may reach them: see the comments in views.py."""
from django.urls import path

from . import views

urlpatterns = [
    # Caddyfile.example: behind jwt_auth, which tells the app the user in X-User-Id.
    path("api/whoami/", views.whoami),
    path("api/echo/", views.echo),
    # examples/django-users/Caddyfile: Django keeps the users.
    path("api/me/", views.me),
    path("internal/credentials/", views.credentials),
]
