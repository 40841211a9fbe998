"""Attachments: upload checks (size, type, real images) and attaching on send."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from im import actions
from im.models import Attachment, Conversation, Message


def url(org, path: str) -> str:
    return f"/api/v1/orgs/{org.pk}/{path}"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def group(owner, member) -> Conversation:
    return actions.do_create_group(owner, name="Photos", member_ids=[member.pk])


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(api, who, org, name: str, content: bytes, content_type: str):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return api(who).post(url(org, "attachments/"), {"file": file}, format="multipart")


def test_png_upload_is_an_image_and_attaches_on_send(api, org, group, member, owner, tmp_path):
    uploaded = upload(api, member, org, "rota.png", png_bytes(), "image/png")

    assert uploaded.status_code == 201
    body = uploaded.json()
    assert (body["name"], body["content_type"], body["is_image"]) == (
        "rota.png",
        "image/png",
        True,
    )
    assert body["size"] == len(png_bytes())
    from im.models import Attachment

    stored = Attachment.objects.get(pk=body["id"]).file
    assert stored.storage.exists(stored.name) and stored.name.endswith(".png")
    assert not list(tmp_path.rglob("*.png"))  # never under the public media root

    sent = api(member).post(
        url(org, f"conversations/{group.pk}/messages/"),
        {"body": "", "attachment_ids": [body["id"]]},
        format="json",
    )
    assert sent.status_code == 201
    assert [a["id"] for a in sent.json()["attachments"]] == [body["id"]]
    seen = api(owner).get(url(org, f"messages/{sent.json()['id']}/")).json()
    assert seen["attachments"][0]["is_image"] is True
    assert Attachment.objects.get(pk=body["id"]).message_id == sent.json()["id"]


def test_plain_file_upload_is_not_an_image(api, org, member):
    uploaded = upload(api, member, org, "notes.txt", b"milk: 40 l", "text/plain")

    assert uploaded.status_code == 201
    assert uploaded.json()["is_image"] is False


def test_file_over_the_limit_is_too_large(api, org, member, settings):
    settings.IM_ATTACHMENT_MAX_BYTES = 1024

    too_big = upload(api, member, org, "big.bin", b"x" * 1025, "application/octet-stream")
    just_fits = upload(api, member, org, "ok.bin", b"x" * 1024, "application/octet-stream")

    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"
    assert just_fits.status_code == 201
    assert Attachment.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "content_type", "content"),
    [
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("page.html", "text/html; charset=utf-8", b"<b>hi</b>"),
        ("logo.svg", "image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    ],
)
def test_active_content_types_are_refused(api, org, member, name, content_type, content):
    response = upload(api, member, org, name, content, content_type)

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert not Attachment.objects.exists()


def test_fake_image_is_refused(api, org, member):
    response = upload(api, member, org, "cat.png", b"MZ\x90\x00 not really a png", "image/png")

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("offset", [20, 45])
def test_damaged_png_is_refused_not_a_500(api, org, member, offset):
    """A damaged header is an OSError to PIL, a damaged image chunk a SyntaxError."""
    data = bytearray(png_bytes())
    data[offset] ^= 0xFF
    response = upload(api, member, org, "broken.png", bytes(data), "image/png")

    assert response.status_code == 400, response.content
    assert "file" in response.json()["error"]["fields"]
    assert not Attachment.objects.exists()


def test_upload_without_a_file_is_a_bad_request(api, org, member):
    response = api(member).post(url(org, "attachments/"), {}, format="multipart")

    assert response.status_code == 400


def test_someone_elses_attachment_cannot_be_attached(api, org, group, owner, member):
    theirs = upload(api, owner, org, "secret.png", png_bytes(), "image/png").json()["id"]

    response = api(member).post(
        url(org, f"conversations/{group.pk}/messages/"),
        {"body": "look", "attachment_ids": [theirs]},
        format="json",
    )

    assert response.status_code == 400
    assert "attachment_ids" in response.json()["error"]["fields"]
    assert not Message.objects.exists()
    assert Attachment.objects.get(pk=theirs).message_id is None


def test_an_attachment_can_be_attached_only_once(api, org, group, member):
    mine = upload(api, member, org, "a.png", png_bytes(), "image/png").json()["id"]
    first = api(member).post(
        url(org, f"conversations/{group.pk}/messages/"),
        {"body": "one", "attachment_ids": [mine]},
        format="json",
    )

    second = api(member).post(
        url(org, f"conversations/{group.pk}/messages/"),
        {"body": "two", "attachment_ids": [mine]},
        format="json",
    )

    assert first.status_code == 201
    assert second.status_code == 400
    assert Attachment.objects.get(pk=mine).message_id == first.json()["id"]
    assert Message.objects.count() == 1


def test_recalled_message_hides_its_attachments(api, org, group, member, owner):
    mine = upload(api, member, org, "a.png", png_bytes(), "image/png").json()["id"]
    mid = (
        api(member)
        .post(
            url(org, f"conversations/{group.pk}/messages/"),
            {"attachment_ids": [mine]},
            format="json",
        )
        .json()["id"]
    )

    api(member).post(url(org, f"messages/{mid}/recall/"))

    assert api(owner).get(url(org, f"messages/{mid}/")).json()["attachments"] == []


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("page.html", "application/octet-stream"), ("logo.svg", "text/plain")],
)
def test_active_content_disguised_by_its_declared_type_is_refused(
    api, org, member, name, content_type
):
    response = upload(
        api, member, org, name, b"<svg onload=alert(1)><script>1</script>", content_type
    )

    assert response.status_code == 400
    assert not Attachment.objects.exists()


def test_files_are_private_and_served_only_to_the_conversation(
    api, org, owner, member, add_member, client
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from im.actions import do_create_group, do_send_message, do_upload_attachment

    group = do_create_group(owner, name="Payroll", member_ids=[member.pk])
    outsider_in_org = add_member(org)
    attachment = do_upload_attachment(
        owner, SimpleUploadedFile("salaries.csv", b"name,salary\nA,1", content_type="text/csv")
    )
    url = f"/api/v1/orgs/{org.pk}/attachments/{attachment.pk}/download/"
    assert api(owner).get(url).status_code == 200  # the uploader, before sending
    assert api(member).get(url).status_code == 404  # not sent yet
    message, _ = do_send_message(owner, group, attachment_ids=[attachment.pk])
    response = api(member).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"name,salary\nA,1"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert api(outsider_in_org).get(url).status_code == 404
    assert api(None).get(url).status_code == 401
    # Nothing under the public media URL, whatever the name.
    assert "salaries" not in attachment.file.name
    assert client.get(f"/media/{attachment.file.name}").status_code == 404
    # Recalled: gone for the members, still there for the uploader.
    from im.actions import do_recall_message

    do_recall_message(owner, message)
    assert api(member).get(url).status_code == 404
    assert api(owner).get(url).status_code == 200
