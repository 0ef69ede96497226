"""Reports of send runs: figures from the database, for a terminal, JSON or one HTML page.

    figures = report_for(project, run_id)
    print(render_text(figures))
    json.dumps(figures.as_dict())
    html = render_html(figures, charts_for(project, figures))
"""

from __future__ import annotations

from .figures import COMPLAINT_LIMIT, ProviderRow, RunFigures, run_figures
from .providers import PROVIDERS, provider_of
from .service import report_for
from .text import render_text

__all__ = ["COMPLAINT_LIMIT", "PROVIDERS", "ProviderRow", "RunFigures", "provider_of",
           "render_text", "report_for", "run_figures"]
