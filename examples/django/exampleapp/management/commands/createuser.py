"""manage.py createuser <username>: add a user who can log in through Caddy's jwt_issuer
(examples/django-users/Caddyfile).

The password is read from the environment variable EXAMPLEAPP_PASSWORD when it is set, else
asked for twice on a terminal, else read as one line from standard input, so it never appears on
the command line (where other users of the machine could see it in the process list).
"""
import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

PASSWORD_ENV = "EXAMPLEAPP_PASSWORD"


class Command(BaseCommand):
    help = f"Create a user; the password comes from ${PASSWORD_ENV}, a prompt, or standard input."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        password = self.read_password()
        user = User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as err:
            raise CommandError("password refused: " + " ".join(err.messages))
        user.set_password(password)
        user.save()
        self.stdout.write(f"created user {username!r} with id {user.pk}")

    def read_password(self):
        password = os.environ.get(PASSWORD_ENV)
        if password:
            return password
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords differ")
            return password
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError(f"no password: set ${PASSWORD_ENV} or write it to standard input")
        return password
