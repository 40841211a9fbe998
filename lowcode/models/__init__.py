"""Low-code models: apps, forms and versions, records, approvals, entry links, reports."""

from lowcode.models.approvals import (
    ApprovalCc,
    ApprovalFlow,
    ApprovalInstance,
    ApprovalStep,
    ApprovalTask,
)
from lowcode.models.apps import App, Form, FormVersion, LookupPage
from lowcode.models.entry import ImportJob, PublicLink
from lowcode.models.records import Record, RecordChange, RecordFile
from lowcode.models.reports import Report

__all__ = [
    "App",
    "ApprovalCc",
    "ApprovalFlow",
    "ApprovalInstance",
    "ApprovalStep",
    "ApprovalTask",
    "Form",
    "FormVersion",
    "ImportJob",
    "LookupPage",
    "PublicLink",
    "Record",
    "RecordChange",
    "RecordFile",
    "Report",
]
