"""Every table letterpress owns, gathered so Alembic and tests see one metadata."""

# Importing the model modules registers their tables on Base.metadata.
from .admin import models as _admin_models  # noqa: F401
from .audience import models as _audience_models  # noqa: F401
from .bounces import models as _bounce_models  # noqa: F401
from .db import Base
from .delivery import models as _delivery_models  # noqa: F401
from .schedule import models as _schedule_models  # noqa: F401
from .stats import models as _stats_models  # noqa: F401

__all__ = ["Base"]
