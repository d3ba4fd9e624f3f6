"""Unbound extensions, bound to an app by ``create_app``."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from aloft.api.blueprint import Api
from aloft.models.base import Base

# Models subclass aloft.models.base.Base, not db.Model; the extension shares its metadata.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
api = Api()
login_manager = LoginManager()
csrf = CSRFProtect()
