import pytest

from lowcode.actions import do_create_app, do_create_form, do_publish_form


@pytest.fixture
def make_form(owner):
    """A published form with ``fields`` in a published app owned by ``owner``."""

    def make(fields, *, name="Inspection", app=None, actor=None):
        actor = actor or owner
        app = app or do_create_app(actor, name=f"{name} app")
        form = do_create_form(actor, app, name=name, fields=fields)
        do_publish_form(actor, form)
        if not app.is_published:
            app.is_published = True
            app.save(update_fields=["is_published"])
        form.refresh_from_db()
        return form

    return make
