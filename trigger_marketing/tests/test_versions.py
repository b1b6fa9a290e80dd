from datetime import timedelta

from odoo.tests import Form, tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestVersions(TriggerMarketingCase):
    """Each start and each saved live change is a version; participants and traces keep
    the version they walked; figures per version, and what changed between two."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(name="Versioned", domain="[]")
        self.welcome = self.make_step(self.scenario, "mail", name="Welcome")

    def send(self, partners, opened):
        with self.mock_mail_gateway():
            self.scenario.enroll(partners)
            self.run_cron()
            self.send_queue()
        for partner in partners[:opened]:
            self.mailing_trace(self.welcome, partner).set_opened()
        self.run_cron()  # the engine handles the opens (people's or machines')
        self.env.invalidate_all()

    def test_versions_figures_and_comparison(self):
        with self.at(NOW):
            self.scenario.with_user(self.user_marketing).action_start()
        first = self.scenario.current_version_id
        self.assertEqual((first.number, first.change), (1, "Started"))
        self.assertEqual(first.author_id, self.user_marketing)
        self.assertEqual([s["values"]["name"] for s in first.snapshot["steps"]], ["Welcome"])
        self.assertIn("- Welcome", first.snapshot_text)
        with self.at(NOW):
            v1_partners = self.make_partners(4)
            self.send(v1_partners, opened=1)
        # a live change by the marketer: a version of its own
        with self.at(NOW + timedelta(hours=1)):
            form = Form(self.welcome.with_user(self.user_marketing))
            form.mail_subject = "Welcome, friend"
            form.save()
            self.make_step(self.scenario, "wait", self.welcome, name="Then wait")
        second, third = self.scenario.version_ids.sorted("number")[1:]
        self.assertEqual(self.scenario.current_version_id, third)
        self.assertIn("Subject: Welcome → Welcome, friend", second.change)
        self.assertEqual(second.author_id, self.user_marketing)
        with self.at(NOW + timedelta(hours=2)):
            v3_partners = self.make_partners(2, name="Later")
            for i, partner in enumerate(v3_partners):
                partner.email = f"later{i}@example.com"
            self.send(v3_partners, opened=2)
        participants = self.scenario.participant_ids
        self.assertEqual(
            participants.filtered(lambda p: p.res_id in v1_partners.ids).version_id, first
        )
        self.assertEqual(
            participants.filtered(lambda p: p.res_id in v3_partners.ids).version_id, third
        )
        self.assertEqual(
            self.traces(self.welcome)
            .filtered(lambda t: t.participant_id.res_id in v3_partners.ids)
            .version_id,
            third,
        )
        # figures per version: version 3 opens 100 %, version 1 25 %
        self.assertEqual((first.participant_count, first.sent_count), (4, 4))
        self.assertEqual(first.open_rate, 25.0)
        self.assertEqual((third.participant_count, third.open_rate), (2, 100.0))
        # on screen, compared with the version before it
        self.assertEqual(third.compare_version_id, second)
        self.assertIn("Version 2", third.comparison_html)
        html = third._comparison_html(first)  # any two versions
        self.assertIn("25 %", html)
        self.assertIn("100 %", html)
        self.assertIn("Step added: Then wait", html)
        self.assertIn("Step Welcome, Subject: Welcome → Welcome, friend", html)
        self.assertIn("Version 2, changed by Maria Marketer", html)
        self.assertIn("Version 3, changed by", html)
        self.assertNotIn("Conversion rate", html)  # no goal, no conversion figure
        self.assertIn("First version", first.comparison_html)
        # the "Compared with" field finds a version by its number
        Version = self.env["marketing.scenario.version"].with_user(self.user_marketing)
        found = Version.name_search("version 1", [("scenario_id", "=", self.scenario.id)])
        self.assertEqual([v[0] for v in found], [first.id])
        self.assertEqual(found[0][1], "Versioned, version 1")

    def test_settings_change_and_draft(self):
        self.scenario.domain = "[('email', '!=', False)]"  # draft: no version
        self.assertFalse(self.scenario.version_ids)
        self.scenario.action_start()
        self.scenario.domain = "[]"
        self.assertEqual(len(self.scenario.version_ids), 2)
        self.assertIn("Audience", self.scenario.current_version_id.change)

    def test_version_rights(self):
        """Marketers read versions; nobody writes them but the scenario."""
        self.scenario.action_start()
        version = self.scenario.current_version_id.with_user(self.user_marketing)
        self.assertEqual(version.number, 1)
        with self.assertRaises(Exception):  # noqa: B017 - AccessError
            version.change = "rewritten"


@tagged("post_install", "-at_install")
class TestDesignerLiveEdit(TriggerMarketingCase):
    """The e-mail of a live step edited in mass_mailing's designer: the form says how
    many contacts wait for it before saving, and the saved change is a version."""

    def test_designer_edit_previewed_and_versioned(self):
        scenario = self.make_scenario(name="Designer", domain="[]")
        first = self.make_step(scenario, "wait", name="First")
        mail = self.make_step(scenario, "mail", first, name="News", delay=2, delay_unit="days")
        mailing = mail.mailing_id.with_user(self.user_marketing)
        self.assertFalse(mailing.trigger_marketing_live_notice, "draft: nothing to say")
        with self.at(NOW):
            scenario.action_start()
            scenario.enroll(self.make_partners(3))
            self.run_cron()  # "First" done: the three contacts wait for the e-mail
        mailing.invalidate_recordset()
        notice = mailing.trigger_marketing_live_notice
        self.assertIn("3 contact(s) wait for this e-mail", notice)
        self.assertIn("Designer", notice)
        versions = len(scenario.version_ids)
        with self.at(NOW + timedelta(hours=1)):
            mailing.write({"body_html": "<p>New content</p>"})
        self.assertEqual(len(scenario.version_ids), versions + 1)
        last = scenario.current_version_id
        self.assertIn("News changed in the e-mail designer", last.change)
        self.assertEqual(last.author_id, self.user_marketing)
        # a change made on the step form is one version, recorded by the step
        with self.at(NOW + timedelta(hours=2)):
            form = Form(mail.with_user(self.user_marketing))
            form.mail_subject = "News, again"
            form.live_pending_choice = "apply"
            form.save()
        self.assertEqual(len(scenario.version_ids), versions + 2)
