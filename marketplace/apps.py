from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "App marketplace"

    def ready(self) -> None:
        # Platform events → app webhooks (marketplace.events), and cool-app card clicks.
        from connectors import sync
        from core import hooks
        from im import actions as im_actions
        from im.cards import CARD_HANDLERS
        from lowcode import hooks as lowcode_hooks
        from marketplace import coolapps, events, tasks  # noqa: F401  (registers the tasks)

        hooks.MEMBERSHIP_CHANGED.append(events.on_membership_changed)
        hooks.MEMBERSHIP_REMOVING.append(events.on_membership_removing)
        im_actions.AFTER_SEND_HOOKS.append(events.on_message_sent)
        lowcode_hooks.RECORD_CREATED.append(events.on_record_created)
        lowcode_hooks.RECORD_UPDATED.append(events.on_record_updated)
        lowcode_hooks.RECORD_DELETED.append(events.on_record_deleted)
        sync.SYNC_FINISHED.append(events.on_sync_finished)
        CARD_HANDLERS[coolapps.HANDLER] = coolapps.handle_card_action

        # Billing (H4): the SQLite ledger guard's function, the subscription install hook.
        from django.db.backends.signals import connection_created

        from marketplace import actions as marketplace_actions
        from marketplace import billing, billing_tasks, ledger  # noqa: F401

        connection_created.connect(ledger.register_sqlite_guard, dispatch_uid="tack-ledger")
        marketplace_actions.INSTALL_HOOKS.append(billing.start_app_subscription)
