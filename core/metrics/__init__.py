"""Activity recording and the DAG (daily active organisations) metrics.

``recording`` writes raw activity cheaply on the request path; ``rollup`` folds it into
``DailyOrgRollup`` and ``PlatformDaily`` rows; ``selectors`` read them for the console,
the operator dashboard and the API. See docs/METRICS.md for the rules.
"""
