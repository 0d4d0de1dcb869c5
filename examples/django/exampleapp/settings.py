"""Settings of the Gatehouse example app: Django + Django REST framework behind Caddy.

Caddy is the web server (Caddyfile.example, examples/django-users/Caddyfile): it serves the static
files, logs users in (jwt_issuer), checks every token (jwt_auth) and proxies the API to this app.
gunicorn listens on 127.0.0.1 only, so nothing but Caddy can reach the app.

Everything that differs between machines comes from the environment:

    DJANGO_SECRET_KEY  Django's SECRET_KEY. Always set it outside your own machine.
    DJANGO_DB_PATH     the sqlite database file; default db.sqlite3 next to manage.py.
    GATEHOUSE_SECRET   the HMAC secret Caddy's jwt_issuer signs tokens with
                       (signing_key secret {env.GATEHOUSE_SECRET}); /api/me/ verifies them with it.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# DEVELOPMENT FALLBACK ONLY: this value is public (it is in the repository). Set DJANGO_SECRET_KEY
# anywhere but on your own machine.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "dev-only-insecure-secret-key-set-DJANGO_SECRET_KEY"
DEBUG = False
# The Host header Caddy passes on is the one the browser sent. Add your domain here.
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",  # the users of the second example (authenticate, createuser)
    "django.contrib.contenttypes",
    "rest_framework",
    "exampleapp",  # for its createuser command
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "exampleapp.urls"
WSGI_APPLICATION = "exampleapp.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH") or str(BASE_DIR / "db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    # No authentication by default: Caddy's jwt_auth has checked the token before a request gets
    # here. The one view that checks the token again (/api/me/) says so itself.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# simplejwt, for /api/me/: it verifies the tokens Caddy's jwt_issuer signs. Without
# GATEHOUSE_SECRET the key is a random one nobody knows, so every token is refused: failing
# closed rather than trusting a well-known default.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("GATEHOUSE_SECRET") or secrets.token_urlsafe(48),
    "USER_ID_CLAIM": "user_id",
    "USER_ID_FIELD": "id",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
