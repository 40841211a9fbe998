"""Settings shared by every runtime mode.

With no environment Tack runs on its *embedded default*: SQLite (WAL), the
in-memory channel layer, eager Celery, a local-memory cache and files under
``var/``. ``DATABASE_URL`` and ``REDIS_URL`` switch to production services.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.utils.translation import gettext_lazy as _

# Lets generic Django classes be subscripted at run time (``ModelForm[User]``).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("TACK_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _embedded_secret_key() -> str:
    """A per-installation key kept under var/, created on first start."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _embedded_secret_key()
# Old keys, comma-separated, still accepted for sessions, signatures and stored secrets
# while rotating (docs/SECURITY.md).
SECRET_KEY_FALLBACKS = [
    k for k in os.environ.get("DJANGO_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
]
# Keys for secrets stored encrypted (connector credentials, bot signing secrets), newest
# first; empty: SECRET_KEY then SECRET_KEY_FALLBACKS (core/crypto.py).
TACK_ENCRYPTION_KEYS = [
    k for k in os.environ.get("TACK_ENCRYPTION_KEYS", "").split(",") if k.strip()
]
DEBUG = _env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "oauth2_provider",
    "core",
    "im",
    "lowcode",
    "connectors",
    "marketplace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.UserLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.tack",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
if DATABASE_URL:
    # Under ASGI every request runs in a new thread, so Django's persistent connections
    # would leak one connection per request. A process-wide psycopg pool is used instead
    # (Django's own advice for ASGI); CONN_MAX_AGE must then be 0.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": int(os.environ.get("TACK_DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("TACK_DB_POOL_MAX", "20")),
        "timeout": 10,
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "tack.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channels, Celery ------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("TACK_CACHE_PREFIX", "tack"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's default 5 s socket timeout breaks the blocking reads channels-redis
            # relies on (django/channels_redis#422), so it is turned off for the layer.
            # Process-local channels share one Redis list per process: room for bursts.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "capacity": 1000,
                "channel_capacity": {"specific.*": 50000},
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 50000},
        }
    }
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# --- Auth -----------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# django-axes: lock an (account, IP) pair after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("TACK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "core.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"
AXES_VERBOSE = False

# Personal API tokens
API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = 366
INVITATION_TTL_DAYS = 14

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Marketplace apps' OAuth tokens (anything but ``tack_…``), scope-checked per view.
        "marketplace.auth.AppTokenAuthentication",
        "core.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        # The organisation's security policy (network allowlist, session lifetime, two-step).
        "core.security.enforcement.OrgPolicyPermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("TACK_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("TACK_THROTTLE_USER", "1200/min"),
        "login": os.environ.get("TACK_THROTTLE_LOGIN", "20/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# OAuth 2.0 for marketplace apps (django-oauth-toolkit); the rest of its settings are in
# the OAUTH2_PROVIDER block below.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER = {
    # Tokens bound to one installation and its granted scopes (marketplace/oauth.py).
    "OAUTH2_VALIDATOR_CLASS": "marketplace.oauth.MarketplaceOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "marketplace.oauth.MarketplaceScopes",
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # only SHA-256 checksums at rest
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # Authorization header only
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # http redirect URIs only to loopback hosts, and only in development (RFC 9700):
    # marketplace.oauth.redirect_uri_problem applies the same rule to manifests.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if (DEBUG or EMBEDDED) else ["https"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tack API",
    "DESCRIPTION": (
        "Tack's REST API. Every organisation-owned resource lives under "
        "`/api/v1/orgs/{org_id}/`. Errors use one JSON envelope: "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "core.models.Membership.Role",
        "MembershipStatusEnum": "core.models.Membership.Status",
        "ConnectionScheduleEnum": "connectors.models.Connection.Schedule",
        "PartnerMemberRoleEnum": "marketplace.models.partners.PartnerMember.Role",
        "WebhookDeliveryStatusEnum": "marketplace.models.webhooks.WebhookDelivery.Status",
    },
}

# Upper bound for any request body; uploads have their own per-type limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
LOGO_MAX_BYTES = 512 * 1024

# --- i18n -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Files ----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("TACK_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("TACK_MEDIA_ROOT", VAR_DIR / "media"))
# Files only members may read (chat attachments): never served under MEDIA_URL.
TACK_PRIVATE_MEDIA_ROOT = Path(os.environ.get("TACK_PRIVATE_MEDIA_ROOT", VAR_DIR / "private"))
WHITENOISE_USE_FINDERS = EMBEDDED or DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Mail -----------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "Tack <noreply@tack.invalid>")
TACK_PUBLIC_URL = os.environ.get("TACK_PUBLIC_URL", "http://127.0.0.1:8000")

# --- Security headers -----------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp): no script but our own files, nothing from another
# host. Styles allow inline because pages set brand colours and widths with style
# attributes; scripts never do (configuration travels in json_script blocks).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TACK_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
CSRF_FAILURE_VIEW = "core.api.errors.csrf_failure"

# --- Chat -------------------------------------------------------------------------
IM_ATTACHMENT_MAX_BYTES = int(os.environ.get("TACK_ATTACHMENT_MAX_BYTES", str(20 * 1024 * 1024)))
# Types a browser would run or render as a page if opened from our origin.
IM_ATTACHMENT_BLOCKED_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "application/x-msdownload",
        "application/x-sh",
    }
)
IM_TYPING_MAX_MEMBERS = 1000
# Above this size a read is not broadcast to the whole group (see im.actions._record_read).
IM_LIVE_RECEIPTS_MAX_MEMBERS = 500
# Embedded default only: run the beat schedule in the web process (core.embedded_beat).
TACK_EMBEDDED_BEAT = _env_bool("TACK_EMBEDDED_BEAT", True)
IM_EVENT_RETENTION_DAYS = 7

# --- DING reminders (im/tasks.py) -------------------------------------------------
CELERY_BEAT_SCHEDULE["im-ding-reminders"] = {
    "task": "im.tasks.send_ding_reminders",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["im-prune-events"] = {"task": "im.tasks.prune_events", "schedule": 86400.0}
CELERY_BEAT_SCHEDULE["connectors-schedule-due"] = {
    "task": "connectors.schedule_due",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["lowcode-approval-reminders"] = {
    "task": "lowcode.send_approval_reminders",
    "schedule": 300.0,
}
# Marketplace billing (marketplace/billing_tasks.py): the idempotent billing run, hourly;
# partner statements, daily. Commission default and payout minimums (minor units).
CELERY_BEAT_SCHEDULE["marketplace-billing-run"] = {
    "task": "marketplace.billing_tasks.run_billing",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["marketplace-partner-statements"] = {
    "task": "marketplace.billing_tasks.partner_statements",
    "schedule": 86400.0,
}
TACK_MARKETPLACE_COMMISSION_RATE = "0.15"
TACK_MARKETPLACE_PAYOUT_MINIMUM = {"CNY": 10000, "*": 10000}

# --- Outgoing calls to user-supplied URLs (core/netguard.py) -----------------------
# Bots' outgoing URLs may only reach public internet addresses (no SSRF into loopback,
# private networks or cloud metadata). Allowed in the embedded default so a local demo
# bot on 127.0.0.1 works; refused in production unless explicitly enabled.
TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS = _env_bool("TACK_ALLOW_PRIVATE_WEBHOOK_TARGETS", EMBEDDED)

# --- Marketplace event webhooks (marketplace/webhooks.py) --------------------------
# Seconds to wait before each retry of an undelivered webhook (then: failed, replayable).
TACK_WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]
TACK_WEBHOOK_TIMEOUT_SECONDS = 15
# Concurrent requests per delivery batch in one worker (one HTTP session per thread).
TACK_WEBHOOK_CONCURRENCY = int(os.environ.get("TACK_WEBHOOK_CONCURRENCY", "8"))
TACK_WEBHOOK_BATCH_SIZE = 200
# After a secret rotation, requests carry a signature with the old secret too, this long.
TACK_WEBHOOK_SECRET_GRACE_SECONDS = 24 * 3600
CELERY_BEAT_SCHEDULE["marketplace-webhooks-due"] = {
    "task": "marketplace.webhooks_due",
    "schedule": 30.0,
}
# Delivered, failed and cancelled deliveries (with their attempt log) are kept this long.
TACK_WEBHOOK_RETENTION_DAYS = 30
CELERY_BEAT_SCHEDULE["marketplace-prune-webhook-deliveries"] = {
    "task": "marketplace.prune_webhook_deliveries",
    "schedule": 86400.0,
}
CELERY_BEAT_SCHEDULE["marketplace-clear-expired-oauth-tokens"] = {
    "task": "marketplace.clear_expired_oauth_tokens",
    "schedule": 86400.0,
}

# --- Activity and DAG metrics (core.metrics; docs/METRICS.md) ----------------------
# Defaults of the first DAG definition; later changes are new versions (ops API / console).
TACK_DAG_MIN_ACTIVE_SHARE = os.environ.get("TACK_DAG_MIN_ACTIVE_SHARE", "1/3")
TACK_DAG_MIN_SYSTEMS = int(os.environ.get("TACK_DAG_MIN_SYSTEMS", "6"))
TACK_DAG_MIN_USAGE_MINUTES = int(os.environ.get("TACK_DAG_MIN_USAGE_MINUTES", "0"))
# The built-in chat makes members active; it is a business system only when this is true.
TACK_METRICS_CHAT_IS_SYSTEM = _env_bool("TACK_METRICS_CHAT_IS_SYSTEM", False)
TACK_METRICS_RECORDING = _env_bool("TACK_METRICS_RECORDING", True)
# "redis" or "db"; empty: Redis when REDIS_URL is set, else the database upsert table.
TACK_METRICS_BACKEND = os.environ.get("TACK_METRICS_BACKEND", "")
TACK_METRICS_REDIS_PREFIX = os.environ.get("TACK_METRICS_REDIS_PREFIX", "tack:act")
TACK_METRICS_REDIS_RETENTION_DAYS = int(os.environ.get("TACK_METRICS_REDIS_RETENTION_DAYS", "40"))
CELERY_BEAT_SCHEDULE["metrics-rollup-yesterday"] = {
    "task": "core.metrics.tasks.rollup_yesterday",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["metrics-rollup-today"] = {
    "task": "core.metrics.tasks.rollup_today",
    "schedule": 3600.0,
}
