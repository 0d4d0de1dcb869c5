"""A view protected by simplejwt's JWTAuthentication (the project's default authentication)."""
from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["GET"])
def whoami(request):
    """Who the access token says the caller is."""
    return Response({"user_id": request.user.id, "username": request.user.username})
