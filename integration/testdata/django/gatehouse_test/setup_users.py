"""Creates the test user: alice, user id 1 in a fresh database, password from GATEHOUSE_DJANGO_PASSWORD.

Run with: manage.py shell -c "import gatehouse_test.setup_users"
"""
import os

from django.contrib.auth.models import User

user = User.objects.create_user("alice", password=os.environ["GATEHOUSE_DJANGO_PASSWORD"])
if user.id != 1:
    raise SystemExit(f"alice got user id {user.id}, not 1: the database was not fresh")
