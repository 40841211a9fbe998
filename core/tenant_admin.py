"""Building blocks for organisation-aware Django admin pages.

Every app's ``admin.py`` builds on these, so each tenant-owned model's admin
behaves the same way:

- ``TenantModelAdmin`` shows the organisation column, filters by organisation
  (``?org__id__exact=<id>``), loads the organisation with the rows, picks it
  with an autocomplete and makes it read-only once the object exists: moving an
  object to another organisation would orphan everything that points at it.
- ``TenantModelForm`` validates unique constraints that include ``org`` even
  when ``org`` is not an editable field of the form (read-only, or taken from
  an inline's parent), so a duplicate is a form error instead of a 500.
- ``OrgFromParentFormSet`` gives every inline row the organisation of its parent
  object (a ``DepartmentMember`` row under a ``Department``), so a row can never
  disagree with its parent.
- ``LabelledAutocompleteAdmin``: for models whose ``__str__`` cannot tell rows
  apart ("Sales" exists in every organisation), autocompletes that point at the
  model show ``autocomplete_label(obj)`` instead.
- Autocomplete widgets label the object a row already holds from the row itself,
  so an inline of N rows does not cost one query per row.

Use them as::

    @admin.register(Thing)
    class ThingAdmin(TenantModelAdmin[Thing]):
        list_display = ("name", "org")
        list_select_related = ("org",)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from django import forms
from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect, RelatedFieldWidgetWrapper
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import ForeignKey, Model
from django.forms.models import BaseInlineFormSet, InlineForeignKeyField
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, path, reverse

_M = TypeVar("_M", bound=Model)

# django-stubs declares the admin and form classes generic; at runtime they are
# not subscriptable, so give them a runtime stand-in that is.
if TYPE_CHECKING:
    GenericModelAdmin = admin.ModelAdmin
    GenericTabularInline = admin.TabularInline
    GenericModelForm = forms.ModelForm
    GenericInlineFormSet = BaseInlineFormSet
    GenericModelChoiceField = forms.ModelChoiceField
    _AdminMixinBase = admin.options.BaseModelAdmin[Any]  # mixed into admins of any model
else:
    _AdminMixinBase = object
    _C = TypeVar("_C")
    _P = TypeVar("_P")
    _F = TypeVar("_F")

    class GenericModelAdmin(Generic[_M], admin.ModelAdmin):
        pass

    class GenericTabularInline(Generic[_C, _P], admin.TabularInline):
        pass

    class GenericModelForm(Generic[_M], forms.ModelForm):
        pass

    class GenericInlineFormSet(Generic[_C, _P, _F], BaseInlineFormSet):
        pass

    class GenericModelChoiceField(Generic[_M], forms.ModelChoiceField):
        pass


# --- Autocomplete ------------------------------------------------------------------


class LabelledModelChoiceField(GenericModelChoiceField[_M]):
    """A model choice whose option text comes from ``label_from`` instead of ``str()``."""

    def __init__(self, *args: Any, label_from: Callable[[_M], str], **kwargs: Any) -> None:
        self.label_from = label_from
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: _M) -> str:
        return self.label_from(obj)


class PreloadedAutocompleteSelect(AutocompleteSelect):
    """An admin autocomplete that can label its current value without a query.

    ``preloaded`` maps a value to its label; ``TenantModelForm`` fills it from the
    related object the form's instance already holds. ``url_name`` points the
    widget at a labelled autocomplete view (see ``LabelledAutocompleteAdmin``).
    """

    preloaded: dict[str, str]

    def __init__(
        self,
        field: ForeignKey[Any, Any],
        admin_site: admin.AdminSite,
        attrs: dict[str, Any] | None = None,
        choices: Any = (),
        using: str | None = None,
        *,
        url_name: str | None = None,
    ) -> None:
        super().__init__(field, admin_site, attrs=attrs, choices=choices, using=using)
        self.url_name_override = url_name
        self.preloaded = {}

    def get_url(self) -> str:
        if self.url_name_override:
            return reverse(f"{self.admin_site.name}:{self.url_name_override}")
        return super().get_url()

    def optgroups(
        self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None
    ) -> list[tuple[str | None, list[dict[str, Any]], int | None]]:
        selected = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        if not selected or any(v not in self.preloaded for v in selected):
            return super().optgroups(name, value, attr)
        options: list[dict[str, Any]] = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        for v in selected:
            options.append(self.create_option(name, v, self.preloaded[v], True, len(options)))
        return [(None, options, 0)]


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Search results labelled by the target admin's ``autocomplete_label``."""

    def serialize_result(self, obj: Model, to_field_name: str) -> dict[str, str]:
        result = super().serialize_result(obj, to_field_name)
        if isinstance(self.model_admin, LabelledAutocompleteAdmin):
            result["text"] = self.model_admin.autocomplete_label(obj)
        return result


def _unwrap(widget: forms.Widget) -> forms.Widget:
    return widget.widget if isinstance(widget, RelatedFieldWidgetWrapper) else widget


class AutocompleteFormfieldMixin(_AdminMixinBase):
    """For model admins and inlines: autocompletes that label rows without a query each."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            target = self.admin_site._registry.get(db_field.remote_field.model)
            url_name = None
            if isinstance(target, LabelledAutocompleteAdmin):
                url_name = target.labelled_autocomplete_url_name()
                kwargs.setdefault("queryset", target.get_queryset(request))
                kwargs.setdefault("form_class", LabelledModelChoiceField)
                kwargs["label_from"] = target.autocomplete_label
            kwargs["widget"] = PreloadedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using"), url_name=url_name
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class LabelledAutocompleteAdmin(AutocompleteFormfieldMixin, GenericModelAdmin[_M]):
    """A model admin whose autocompletes elsewhere show ``autocomplete_label(obj)``.

    Its ``get_queryset`` should ``select_related`` whatever the label reads.
    """

    def autocomplete_label(self, obj: _M) -> str:
        return str(obj)

    def labelled_autocomplete_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_autocomplete"

    def labelled_autocomplete_view(self, request: HttpRequest) -> HttpResponseBase:
        return LabelledAutocompleteJsonView.as_view(admin_site=self.admin_site)(request)

    def get_urls(self) -> list[URLPattern]:
        own = path(
            "autocomplete/",
            self.admin_site.admin_view(self.labelled_autocomplete_view),
            name=self.labelled_autocomplete_url_name(),
        )
        return [own, *super().get_urls()]


# --- Forms -------------------------------------------------------------------------


class TenantModelForm(GenericModelForm[_M]):
    """A model form for tenant-owned models.

    Keeps ``org`` fixed once the object exists; validates unique constraints that
    include ``org`` even when ``org`` is not a form field; labels autocompletes
    from the related objects the instance already holds.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org_field = self.fields.get("org")
        if (
            self.instance.pk is not None
            and org_field is not None
            and not isinstance(org_field, InlineForeignKeyField)
        ):
            org_field.disabled = True  # an object never moves to another organisation
        self._preload_autocomplete_labels()

    def _preload_autocomplete_labels(self) -> None:
        for name, field in self.fields.items():
            widget = _unwrap(field.widget)
            if not isinstance(widget, PreloadedAutocompleteSelect) or not isinstance(
                field, forms.ModelChoiceField
            ):
                continue
            model_field = self.instance._meta.get_field(name)
            if not isinstance(model_field, ForeignKey) or not model_field.is_cached(self.instance):
                continue
            related = getattr(self.instance, name)
            if related is not None:
                key = str(getattr(related, model_field.target_field.attname))
                widget.preloaded = {key: field.label_from_instance(related)}

    def validate_unique(self) -> None:
        """Also check unique constraints that include an inline's parent key.

        Django leaves those to the formset, which only compares the submitted rows
        with each other; a row that repeats a saved one would end in an
        IntegrityError (a 500) instead of a form error.
        """
        super().validate_unique()
        inline_keys = {
            name for name, f in self.fields.items() if isinstance(f, InlineForeignKeyField)
        }
        if not inline_keys:
            return
        exclude = self._get_validation_exclusions()
        using = router.db_for_write(type(self.instance), instance=self.instance)
        for model, constraints in self.instance.get_constraints():
            for constraint in constraints:
                if inline_keys.isdisjoint(getattr(constraint, "fields", ())):
                    continue
                try:
                    constraint.validate(model, self.instance, exclude=exclude, using=using)
                except ValidationError as error:
                    self.add_error(None, error)

    def _get_validation_exclusions(self) -> set[str]:
        exclude: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        if getattr(self.instance, "org_id", None) is not None:
            exclude.discard("org")
        return exclude


def form_org_id(form: forms.ModelForm[Any]) -> int | None:
    """The organisation a tenant form's object will belong to, as far as it is known."""
    org = form.cleaned_data.get("org")
    if org is not None:
        return int(org.pk) if org.pk is not None else None
    org_id: int | None = getattr(form.instance, "org_id", None)
    return org_id


class OrgFromParentFormSet(GenericInlineFormSet[Any, Any, Any]):
    """Inline rows take ``org`` from their parent object, never from the user."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form: forms.Form = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        parent_org_id = getattr(self.instance, "org_id", None)
        if self.fk.name != "org" and parent_org_id is not None:
            form.instance.org_id = parent_org_id  # type: ignore[attr-defined]
        return form


# --- Admin classes -----------------------------------------------------------------


class TenantModelAdmin(AutocompleteFormfieldMixin, GenericModelAdmin[_M]):
    """Admin for a model with an ``org`` foreign key. Subclasses list ``"org"`` too."""

    form = TenantModelForm
    list_filter: ClassVar[tuple[str | type[admin.ListFilter], ...]] = ("org",)
    list_select_related: ClassVar[tuple[str, ...]] = ("org",)
    autocomplete_fields: ClassVar[tuple[str, ...]] = ("org",)

    def get_readonly_fields(self, request: HttpRequest, obj: _M | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and "org" not in fields:
            fields = ("org", *fields)
        return fields


class LabelledTenantModelAdmin(LabelledAutocompleteAdmin[_M], TenantModelAdmin[_M]):
    """A tenant-owned model whose autocompletes show ``autocomplete_label(obj)``."""


class TenantInline(AutocompleteFormfieldMixin, GenericTabularInline[_M, Any]):
    """A tabular inline whose rows take ``org`` from the parent object."""

    form = TenantModelForm  # type: ignore[assignment]  # (stubs: the TypeVar does not bind)
    formset = OrgFromParentFormSet
    extra = 0
