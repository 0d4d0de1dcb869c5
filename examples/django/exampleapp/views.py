"""The example app's views.

First example (Caddyfile.example): Caddy logs users in and checks their tokens; the app only reads
who the user is from the X-User-Id request header. That header can be trusted for two reasons
together, and only with both:

1. gunicorn listens on 127.0.0.1, so every request comes through Caddy; and
2. Caddy's jwt_auth (forward_claim user_id X-User-Id) removes any X-User-Id the client sent and
   sets its own from a verified token.

Second example (examples/django-users/Caddyfile): Django keeps the users. Caddy's jwt_issuer asks
/internal/credentials/ whether a password is right, and /api/me/ checks the token again itself
with simplejwt.
"""
from django.contrib.auth import authenticate
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt.authentication import JWTAuthentication


def _user_id(request):
    """The user id Caddy's jwt_auth forwarded, or None."""
    return request.headers.get("X-User-Id")


@api_view(["GET"])
def whoami(request):
    """Who Caddy says the caller is, and the names of the cookies that reached the app (never
    their values): with browser sessions, the access cookie arrives, the refresh cookie never."""
    return Response({"user_id": _user_id(request), "cookies": sorted(request.COOKIES)})


@api_view(["POST"])
def echo(request):
    """The request body as the app received it (Caddy passes it on unchanged)."""
    return Response({"user_id": _user_id(request), "body": request.body.decode("utf-8", "replace")})


@api_view(["GET"])
@authentication_classes([JWTAuthentication])
@permission_classes([IsAuthenticated])
def me(request):
    """The user of the access token, as simplejwt sees it: the token is verified here with the
    shared secret as well as by jwt_auth at the edge, and the user must exist in Django's
    database."""
    return Response({"user_id": request.user.pk, "username": request.user.get_username()})


@api_view(["POST"])
def credentials(request):
    """The password check behind jwt_issuer's credentials_url.

    Caddy POSTs {"username": "...", "password": "..."}. 200 {"user_id": <pk>} means the password
    is right (the members become token claims); 401 means it is not, or the user is inactive.
    Caddy answers every other status with 503, never with a login.

    Only Caddy may call this: from outside it would let anyone guess passwords without Caddy's
    login_limit. gunicorn listens on 127.0.0.1, and the Caddyfile answers /internal/* with 404.
    """
    data = request.data
    username = data.get("username") if isinstance(data, dict) else None
    password = data.get("password") if isinstance(data, dict) else None
    if not isinstance(username, str) or not isinstance(password, str):
        return Response({"detail": "username and password must be strings"}, status=400)
    user = authenticate(request._request, username=username, password=password)
    if user is None:
        return Response({"detail": "No active account found with the given credentials"}, status=401)
    return Response({"user_id": user.pk})
