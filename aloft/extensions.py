"""Unbound extensions, bound to an app by ``create_app``."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from aloft.api.blueprint import Api
from aloft.models.base import Base

# Models subclass aloft.models.base.Base, not db.Model; the extension shares its metadata.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
api = Api()
