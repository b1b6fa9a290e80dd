"""French: every term of the addons is translated, and the marketer's screens speak French.

The translation files are checked as files (each term of ``i18n/<addon>.pot`` has a
French translation in ``i18n/fr.po``), then French is loaded into the test database the
way Odoo does when a user installs it (``res.lang._activate_lang`` and the modules' PO
files), and the screens are read back in French: the records of the data files (views,
menus, actions, fields, selections), the composed views of the main screens, the
ready-made scenarios created by a French-speaking user, and a browser tour in French.
"""

import os
import re
from datetime import timedelta

import polib
from lxml import html

from odoo.modules import get_module_path
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools.translate import xml_translate

from .common import NOW, TriggerMarketingCase

FR = "fr_FR"
# what a translation must keep from its source: placeholders and markup
PLACEHOLDER = re.compile(r"%\(\w+\)[-+ #0]*[\d.]*[sdif]|%[sdif]|%%|\{\{.*?\}\}")
TAG = re.compile(r"<[^>]+>")
TRANSLATABLE_ATTRIBUTE = re.compile(r'\s(?:title|alt|placeholder|aria-label)="[^"]*"')


def repository_addons():
    """{addon: folder} of the addons at the root of the repository (our own addons)."""
    root = os.path.dirname(get_module_path("trigger_marketing"))
    return {
        name: os.path.join(root, name)
        for name in sorted(os.listdir(root))
        if os.path.isfile(os.path.join(root, name, "__manifest__.py"))
    }


def read_catalogs(folder):
    """(template, French) PO files of the addon in ``folder``."""
    name = os.path.basename(folder)
    i18n = os.path.join(folder, "i18n")
    return polib.pofile(os.path.join(i18n, f"{name}.pot")), polib.pofile(
        os.path.join(i18n, "fr.po")
    )


def french_terms(addons):
    """{English term: French term} of the given addons' fr.po files."""
    terms = {}
    for folder in addons.values():
        _pot, po = read_catalogs(folder)
        terms.update({e.msgid: e.msgstr for e in po if e.msgstr and "fuzzy" not in e.flags})
    return terms


def view_terms(arch):
    """The translatable terms of a view architecture, as Odoo cuts and exports them
    (a term of a few signs without a letter, such as "%", is not exported)."""
    terms = []

    def collect(term):
        if len(term.strip()) > 8 or any(c.isalpha() for c in term):
            terms.append(term)

    xml_translate(collect, arch)
    return terms


def load_french(env, addons):
    """Install French for ``addons`` as Odoo does (language, then the modules' PO files).

    The test's rollback undoes it in the database, not in the registry's caches (active
    languages, the users' context...): the callers clear them after the rollback, so that
    the next tests do not run half in French."""
    env["res.lang"]._activate_lang(FR)
    env["ir.module.module"].search(
        [("name", "in", list(addons)), ("state", "=", "installed")]
    )._update_translations([FR], overwrite=True)


@tagged("post_install", "-at_install")
class TestTranslationFiles(TransactionCase):
    """The PO files themselves: complete, in sync with the templates, placeholders kept."""

    def test_every_addon_has_a_complete_french_translation(self):
        addons = repository_addons()
        self.assertIn("trigger_marketing", addons)
        for name, folder in addons.items():
            with self.subTest(addon=name):
                pot, po = read_catalogs(folder)
                self.assertGreater(len(pot), 0, f"{name}.pot has no term")
                french = {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}
                missing = [e.msgid for e in pot if (e.msgctxt, e.msgid) not in french]
                empty = [
                    e.msgid
                    for e in pot
                    if not getattr(french.get((e.msgctxt, e.msgid)), "msgstr", "x").strip()
                ]
                fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
                stale = sorted(set(french) - {(e.msgctxt, e.msgid) for e in pot})
                self.assertEqual(missing, [], f"{name}/i18n/fr.po lacks these terms (make pot)")
                self.assertEqual(empty, [], f"{name}/i18n/fr.po: untranslated terms")
                self.assertEqual(fuzzy, [], f"{name}/i18n/fr.po: fuzzy terms")
                self.assertEqual(stale, [], f"{name}/i18n/fr.po: terms gone from the .pot")

    def test_translations_keep_placeholders_and_markup(self):
        for name, folder in repository_addons().items():
            _pot, po = read_catalogs(folder)
            for entry in po:
                if not entry.msgstr:
                    continue
                with self.subTest(addon=name, term=entry.msgid[:60]):
                    self.assertEqual(
                        sorted(PLACEHOLDER.findall(entry.msgstr)),
                        sorted(PLACEHOLDER.findall(entry.msgid)),
                        "the translation must keep the placeholders",
                    )
                    self.assertEqual(
                        [TRANSLATABLE_ATTRIBUTE.sub("", t) for t in TAG.findall(entry.msgstr)],
                        [TRANSLATABLE_ATTRIBUTE.sub("", t) for t in TAG.findall(entry.msgid)],
                        "the translation must keep the markup",
                    )


@tagged("post_install", "-at_install")
class TestFrenchScreens(TransactionCase):
    """French installed on the database: what the marketer reads is French."""

    @classmethod
    def setUpClass(cls):
        # class cleanups run last-in first-out: this one after the rollback
        cls.addClassCleanup(lambda: cls.registry.clear_all_caches())
        super().setUpClass()
        cls.addons = repository_addons()
        cls.installed = set(
            cls.env["ir.module.module"]
            .search([("name", "in", list(cls.addons)), ("state", "=", "installed")])
            .mapped("name")
        )
        load_french(cls.env, cls.installed)
        cls.french = french_terms({n: f for n, f in cls.addons.items() if n in cls.installed})
        cls.fr_env = cls.env(context=dict(cls.env.context, lang=FR))
        cls.user_fr = new_test_user(
            cls.env,
            login="tm_french",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_user",
            email="marie.martin@example.com",
            name="Marie Martin",
            lang=FR,
        )

    def our_view_terms(self, model, view_type):
        """The terms of our addons' views (primary or inherited) of ``model``/``view_type``."""
        data = self.env["ir.model.data"].search(
            [("model", "=", "ir.ui.view"), ("module", "in", list(self.installed))]
        )
        views = self.env["ir.ui.view"].browse(data.mapped("res_id"))
        views = views.filtered(lambda v: v.model == model and v.type == view_type)
        return [term for view in views for term in view_terms(view.arch_db)]

    def assertFrenchScreen(self, model, view_type, at_least):
        """Each term of our views in the screen ``model``/``view_type`` reads in French."""
        what = f"{model} {view_type}"
        ours = self.our_view_terms(model, view_type)
        self.assertGreaterEqual(len(ours), at_least, f"{what}: too few of our terms found")
        en_terms = set(view_terms(self.env[model].get_view(view_type=view_type)["arch"]))
        fr_terms = set(view_terms(self.fr_env[model].get_view(view_type=view_type)["arch"]))
        for term in ours:
            self.assertIn(term, en_terms, f"{what}: “{term}” is not on the English screen")
            translation = self.french.get(term)
            self.assertTrue(translation, f"{what}: “{term}” has no French translation")
            self.assertIn(translation, fr_terms, f"{what}: “{term}” is not in French")
            if translation != term:
                self.assertNotIn(term, fr_terms, f"{what}: “{term}” left in English")

    def test_data_records_are_in_french(self):
        """Each term that the .pot takes from a record (view, menu, action, field, selection,
        group, cron...) reads in French on that record."""
        checked = 0
        for name in sorted(self.installed):
            pot, po = read_catalogs(self.addons[name])
            french = {e.msgid: e.msgstr for e in po}
            for entry in pot:
                for occurrence, _line in entry.occurrences:
                    kind, _sep, ref = occurrence.partition(":")
                    if kind not in ("model", "model_terms"):
                        continue
                    model_field, xmlid = ref.rsplit(":", 1)
                    model, field = model_field.split(",")
                    record = self.fr_env.ref(xmlid)
                    self.assertEqual(record._name, model, xmlid)
                    value = record[field] or ""
                    with self.subTest(record=xmlid, field=field, term=entry.msgid[:50]):
                        if kind == "model":
                            self.assertEqual(value, french[entry.msgid])
                        else:
                            self.assertTrue(
                                french[entry.msgid] in view_terms(value),
                                f"“{entry.msgid}” is not in French in {xmlid}",
                            )
                    checked += 1
        self.assertGreater(checked, 300, "the .pot files should hold the data terms")

    def test_main_screens_are_in_french(self):
        screens = [
            ("marketing.scenario", "form", 40),
            ("marketing.scenario", "kanban", 3),
            ("marketing.scenario", "search", 3),
            ("marketing.scenario.step", "form", 30),
            ("marketing.scenario.step", "hierarchy", 5),
            ("marketing.scenario.participant", "form", 5),
            ("marketing.score.rule", "form", 3),
            ("res.config.settings", "form", 5),
            ("res.partner", "form", 3),
        ]
        for model, view_type, at_least in screens:
            with self.subTest(model=model, view=view_type):
                self.assertFrenchScreen(model, view_type, at_least)
        form = self.fr_env["marketing.scenario"].get_view(view_type="form")["arch"]
        for label in ("Lancer", "Ajouter l'audience actuelle maintenant", "Qui entre"):
            self.assertIn(label, form)

    def test_menus_and_selections_are_in_french(self):
        root = self.fr_env.ref("trigger_marketing.trigger_marketing_menu_root")
        menus = self.fr_env["ir.ui.menu"].search([("id", "child_of", root.id)])
        names = set(menus.mapped("name"))
        self.assertTrue(
            {"Scénarios", "Nouveau à partir d'un modèle", "Analyse", "Historique de score"}
            <= names,
            names,
        )
        for menu in menus:
            en_name = menu.with_context(lang="en_US").name
            self.assertEqual(menu.name, self.french.get(en_name, en_name), en_name)
        fields = self.fr_env["marketing.scenario"].fields_get(["trigger"], ["selection"])
        triggers = dict(fields["trigger"]["selection"])
        self.assertEqual(triggers["create"], "Enregistrement créé")
        self.assertEqual(triggers["anniversary"], "Date anniversaire")

    def _template_texts(self, scenario):
        """What a marketer reads of a ready-made scenario: its name, the names of its steps,
        the subjects and texts of its e-mails and the summaries of its activities."""
        texts = [scenario.name]
        for step in scenario.step_ids.sorted(lambda s: (s.parent_id.id or 0, s.sequence, s.id)):
            texts.append(step.name)
            if step.activity_summary:
                texts.append(step.activity_summary)
            if step.mailing_id:
                texts.append(step.mailing_id.subject)
                body = html.fromstring(step.mailing_id.body_html)
                texts += [" ".join(t.split()) for t in body.itertext() if t.strip()]
        return texts

    def test_ready_made_scenarios_are_in_french(self):
        """Each template, created by a French user, has no English left: names, descriptions,
        step names, e-mail subjects and texts, activity summaries."""
        Scenario = self.env["marketing.scenario"].with_user(self.user_fr)
        english = Scenario.with_context(lang="en_US")
        french = Scenario.with_context(lang=FR)
        templates_en = {t["code"]: t for t in english._available_templates()}
        templates_fr = {t["code"]: t for t in french._available_templates()}
        self.assertEqual(set(templates_en), set(templates_fr))
        self.assertGreaterEqual(len(templates_fr), 5)
        self.assertEqual(templates_fr["welcome"]["name"], "Série de bienvenue")
        for code, template in templates_en.items():
            with self.subTest(template=code):
                for key in ("name", "description"):
                    self.assertEqual(templates_fr[code][key], self.french[template[key]])
                texts_en = self._template_texts(english._create_from_template(code))
                texts_fr = self._template_texts(french._create_from_template(code))
                self.assertEqual(len(texts_en), len(texts_fr))
                self.assertEqual(texts_fr[0], self.french[texts_en[0]])
                left = [t for t in texts_fr if t in texts_en and re.search("[a-z]{3}", t)]
                self.assertEqual(left, [], f"English left in the French {code} scenario")
        wizard = self.env["marketing.scenario.template.wizard"].with_user(self.user_fr)
        labels = dict(wizard.with_context(lang=FR)._selection_template())
        self.assertEqual(labels["birthday"], "Anniversaire")


@tagged("post_install", "-at_install")
class TestFrenchEngine(TriggerMarketingCase):
    """What the engine writes for the marketer (reasons of traces, score history) is in
    French in a French database, also when a cron writes it (a cron has no language: it
    writes in the company's)."""

    @classmethod
    def setUpClass(cls):
        cls.addClassCleanup(lambda: cls.registry.clear_all_caches())  # after the rollback
        super().setUpClass()
        load_french(cls.env, ["trigger_marketing"])
        cls.env.company.partner_id.lang = FR

    def test_cron_reasons_in_the_company_language(self):
        scenario = self.make_scenario()
        wait = self.make_step(
            scenario,
            "wait_until",
            name="A un téléphone",
            condition_domain="[('phone', '!=', False)]",
            wait_timeout=1,
            wait_timeout_unit="days",
        )
        scenario.action_start()
        partner = self.make_partners(1)
        with self.at(NOW):
            scenario.enroll(partner)
            self.run_cron()
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.run_cron()
        self.assertEqual(
            self.trace_of(wait, partner).reason,
            "Délai maximal dépassé : la condition n'a pas été remplie à temps.",
        )

    def test_score_decay_history_in_the_company_language(self):
        ICP = self.env["ir.config_parameter"].sudo()
        for key in ("score_decay_last_run", "score_decay_cursor", "score_decay_run"):
            ICP.set_param(f"trigger_marketing.{key}", False)
        self.set_score_settings(decay=True, decay_percent=10, decay_period="month")
        partner = self.make_partners(1)
        self.env["res.partner"]._add_marketing_score(
            [{"partner_id": partner.id, "points": 50, "description": "test"}]
        )
        with self.at(NOW), self.enter_registry_test_mode():
            self.env.ref("trigger_marketing.ir_cron_score_decay").method_direct_trigger()
        self.env.invalidate_all()
        decay = partner.marketing_score_history_ids.filtered(lambda h: h.event == "decay")
        self.assertEqual(decay.description, "Érosion (-10 %)")

    def test_mail_event_reason_in_french(self):
        """An open closes the "not opened" branch with a reason in words, not a code."""
        scenario = self.make_scenario()
        welcome = self.make_step(scenario, "mail", name="Bienvenue")
        reminder = self.make_step(
            scenario, "mail", welcome, name="Relance", trigger_type="mail_not_open", delay=3
        )
        scenario.action_start()
        partner = self.make_partners(1)
        with self.at(NOW):
            scenario.enroll(partner)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
        # the tracking request of a French recipient
        self.gateway_mail_trace_open(welcome.mailing_id.with_context(lang=FR), partner)
        trace = self.trace_of(reminder, partner)
        self.assertEqual((trace.state, trace.reason), ("skipped", "E-mail ouvert"))


@tagged("post_install", "-at_install")
class TestFrenchTour(HttpCase):
    """A French-speaking marketer builds a scenario from a template in the browser."""

    def setUp(self):
        self.addCleanup(self.registry.clear_all_caches)  # after the rollback (LIFO)
        super().setUp()

    def test_french_tour(self):
        addons = repository_addons()
        load_french(self.env, addons)
        admin = self.env.ref("base.user_admin")
        admin.write({"lang": FR, "email": "admin@example.com"})
        self.start_tour(
            "/odoo/action-trigger_marketing.marketing_scenario_action",
            "trigger_marketing_french_tour",
            login="admin",
        )
        scenario = self.env["marketing.scenario"].search([("name", "=", "Série de bienvenue")])
        self.assertEqual(len(scenario), 1)
        self.assertEqual(
            set(scenario.step_ids.mapped("name")),
            {"Bienvenue", "Relance de bienvenue", "Meilleurs contenus"},
        )
        welcome = scenario.step_ids.filtered(lambda s: s.name == "Bienvenue")
        self.assertEqual(welcome.mailing_id.subject, "Bienvenue à bord !")
