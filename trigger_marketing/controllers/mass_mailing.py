from odoo.http import request

from odoo.addons.mass_mailing.controllers import main


class MassMailController(main.MassMailController):
    def _check_mailing_email_token(
        self, mailing_id, document_id, email, hash_token, required_mailing_id=False
    ):
        """Remember which mailing the unsubscribe/blocklist request comes from: the
        unsubscribe score event gets the mailing as source and its scenario (rules
        restricted to scenarios can then count it)."""
        mailing_sudo = super()._check_mailing_email_token(
            mailing_id, document_id, email, hash_token, required_mailing_id=required_mailing_id
        )
        if mailing_sudo:
            request.update_context(trigger_marketing_mailing_id=mailing_sudo.id)
            mailing_sudo = mailing_sudo.with_context(trigger_marketing_mailing_id=mailing_sudo.id)
        return mailing_sudo
