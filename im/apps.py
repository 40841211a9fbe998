from django.apps import AppConfig


class ImConfig(AppConfig):
    name = "im"
    verbose_name = "Instant messaging"

    def ready(self) -> None:
        from core import hooks
        from core.realtime import SUBSCRIPTION_LOADERS
        from im import actions, consumers, selectors

        SUBSCRIPTION_LOADERS.append(selectors.conversation_ids_for_user)
        hooks.MEMBERSHIP_CHANGED.append(actions.sync_membership)
        hooks.MEMBERSHIP_REMOVING.append(actions.remove_from_all_conversations)
        hooks.DEPARTMENT_MEMBER_CHANGED.append(actions.sync_department_member)
        consumers.register_frame_handlers()

        # Bots: outgoing bots hear @-mentions; importing im.bots registers its Celery task.
        from im import bots

        actions.AFTER_SEND_HOOKS.append(bots.on_message_sent)
