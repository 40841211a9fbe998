from lowcode.actions import do_create_record, do_update_record, do_bulk_create_records
from lowcode.selectors import records_query


def test_smoke(make_form, owner, member):
    form = make_form([
        {"key": "batch", "type": "text", "label": "Batch", "required": True, "indexed": True},
        {"key": "temp", "type": "number", "label": "Temp", "options": {"decimals": 1}},
        {"key": "price", "type": "money", "label": "Price"},
        {"key": "qty", "type": "number", "label": "Qty"},
        {"key": "total", "type": "computed", "label": "Total", "options": {"expression": "price * qty"}},
        {"key": "sn", "type": "serial", "label": "SN", "options": {"prefix": "INS-"}},
        {"key": "tags", "type": "multi_select", "label": "Tags", "options": {"choices": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}},
        {"key": "who", "type": "member", "label": "Who"},
        {"key": "items", "type": "sub_table", "label": "Items", "options": {"columns": [{"key": "name", "type": "text", "label": "Name", "required": True}, {"key": "n", "type": "number", "label": "N"}]}},
    ])
    r, created = do_create_record(owner, form, {"batch": "B1", "temp": 4.25, "price": {"amount": 250}, "qty": 3, "tags": ["a"], "who": member.pk, "items": [{"name": "x", "n": 2}]}, idempotency_key="k1")
    assert created and r.data["total"] == 750 and r.data["sn"] == "INS-000001", r.data
    r2, created = do_create_record(owner, form, {"batch": "zzz"}, idempotency_key="k1")
    assert not created and r2.pk == r.pk
    import pytest
    from core.errors import ValidationFailed
    with pytest.raises(ValidationFailed) as e:
        do_create_record(owner, form, {"temp": "hot", "nope": 1, "who": 999999, "items": [{"n": "x"}]})
    print(e.value.fields)
    res = do_bulk_create_records(owner, form, [{"batch": f"B{i}", "temp": i, "tags": ["b"] if i % 2 else ["a"]} for i in range(20)] + [{"temp": 1}, "x"])
    print(res.created, res.errors)
    page = records_query(owner, form, filters=[{"field": "temp", "op": "range", "value": [3, 10]}], sort="-temp", limit=3)
    print([(x.data.get("temp"), x.pk) for x in page.records], page.next_cursor)
    page2 = records_query(owner, form, filters=[{"field": "temp", "op": "range", "value": [3, 10]}], sort="-temp", limit=3, cursor=page.next_cursor)
    print([(x.data.get("temp"), x.pk) for x in page2.records])
    page = records_query(owner, form, filters=[{"field": "tags", "op": "contains", "value": ["a"]}])
    print(len(page.records))
    page = records_query(owner, form, sort="batch", limit=5)
    print([x.data.get("batch") for x in page.records])
    r = do_update_record(owner, r, {"qty": 4})
    assert r.data["total"] == 1000 and r.data["sn"] == "INS-000001"
