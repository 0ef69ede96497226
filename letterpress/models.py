"""Every table letterpress owns, gathered so Alembic and tests see one metadata."""

# Importing the model modules registers their tables on Base.metadata.
from .audience import models as _audience_models  # noqa: F401
from .bounces import models as _bounce_models  # noqa: F401
from .db import Base
from .delivery import models as _delivery_models  # noqa: F401
from .schedule import models as _schedule_models  # noqa: F401

__all__ = ["Base"]
