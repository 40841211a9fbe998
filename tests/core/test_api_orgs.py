import pytest

from core.models import AuditLogEntry, Membership, Organization

pytestmark = pytest.mark.django_db


def test_creating_an_organisation_makes_the_creator_its_owner(api, make_user):
    user = make_user()
    response = api(user).post("/api/v1/orgs/", {"name": "Northfield Dairy"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "northfield-dairy"
    assert body["my_role"] == "owner"
    assert Membership.objects.get(org_id=body["id"], user=user).role == "owner"
    assert AuditLogEntry.objects.filter(org_id=body["id"], action="org.create").exists()


def test_slugs_stay_unique_and_a_taken_slug_is_a_conflict(api, make_user):
    user = make_user()
    first = api(user).post("/api/v1/orgs/", {"name": "Acme"}, format="json").json()
    second = api(user).post("/api/v1/orgs/", {"name": "Acme"}, format="json").json()
    assert first["slug"] == "acme" and second["slug"] == "acme-2"
    response = api(user).post("/api/v1/orgs/", {"name": "X", "slug": "acme"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"slug": ["Taken."]}


def test_blank_name_is_refused_with_field_errors(api, make_user):
    response = api(make_user()).post("/api/v1/orgs/", {"name": "   "}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]
    assert Organization.objects.count() == 0


def test_list_shows_only_my_active_organisations_with_my_role(api, make_org, make_user, add_member):
    me = make_user()
    mine = make_org("Mine", owner=me)
    theirs = make_org("Theirs")
    add_member(theirs, "member", user=me, status="suspended")
    joined = make_org("Joined")
    add_member(joined, "guest", user=me)
    body = api(me).get("/api/v1/orgs/").json()
    assert [(o["name"], o["my_role"]) for o in body] == [("Joined", "guest"), ("Mine", "owner")]
    assert mine.pk in {o["id"] for o in body}


def test_member_reads_the_organisation(api, member):
    response = api(member).get(f"/api/v1/orgs/{member.org_id}/")
    assert response.status_code == 200
    assert response.json()["my_role"] == "member"


def test_admin_updates_branding_and_it_is_audited(api, admin):
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/",
        {"brand_name": "Dairy Hub", "brand_color": "#ff69b4"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["brand_color"] == "#ff69b4"
    entry = AuditLogEntry.objects.get(org_id=admin.org_id, action="org.update")
    assert entry.actor == admin.user
    assert entry.data["after"]["brand_color"] == "#ff69b4"
    assert entry.ip_address == "127.0.0.1"


def test_member_cannot_change_branding(api, member):
    response = api(member).patch(
        f"/api/v1/orgs/{member.org_id}/", {"brand_color": "#000000"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    member.org.refresh_from_db()
    assert member.org.brand_color == "#1f6feb"


def test_invalid_colour_is_a_field_error(api, admin):
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/", {"brand_color": "pink"}, format="json"
    )
    assert response.status_code == 400
    assert "brand_color" in response.json()["error"]["fields"]


def test_read_only_fields_are_ignored_not_written(api, admin):
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/",
        {"member_limit": 100000, "edition": "proprietary"},
        format="json",
    )
    assert response.status_code == 200
    admin.org.refresh_from_db()
    assert admin.org.member_limit == 500 and admin.org.edition == "free"


def test_logo_upload_is_stored_and_oversized_logo_is_413(api, admin, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "#ff0000").save(buf, "PNG")
    buf.name = "logo.png"
    buf.seek(0)
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/", {"brand_logo": buf}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["brand_logo"].endswith(".png")

    settings.LOGO_MAX_BYTES = 10
    buf.seek(0)
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/", {"brand_logo": buf}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_a_file_that_is_not_an_image_is_refused_as_logo(api, admin, settings, tmp_path):
    import io

    settings.MEDIA_ROOT = tmp_path
    fake = io.BytesIO(b"<script>alert(1)</script>")
    fake.name = "logo.png"
    response = api(admin).patch(
        f"/api/v1/orgs/{admin.org_id}/", {"brand_logo": fake}, format="multipart"
    )
    assert response.status_code == 400
    assert "brand_logo" in response.json()["error"]["fields"]
