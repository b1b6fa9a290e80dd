from markupsafe import Markup

from odoo import api, models
from odoo.exceptions import UserError

# Inline styles only: mail clients ignore style sheets.
MAIL_STYLE = (
    "max-width:600px;margin:0 auto;padding:24px;font-family:Arial,Helvetica,sans-serif;"
    "font-size:14px;line-height:1.5;color:#222;background-color:#fff;"
)
BUTTON_STYLE = (
    "display:inline-block;padding:10px 20px;border-radius:4px;background-color:#714B67;"
    "color:#fff;text-decoration:none;font-weight:bold;"
)
FOOTER_STYLE = "margin-top:32px;font-size:12px;color:#888;text-align:center;"


class MarketingScenario(models.Model):
    """Ready-made scenarios (the template picker), kept apart from the engine.

    A template is a method ``_template_<code>()`` that creates a *draft* scenario with its
    steps and e-mails and returns it; ``_scenario_templates()`` lists them for the picker.
    Bridges add theirs: extend ``_scenario_templates()`` (``super() + [{...}]``) and
    define ``_template_<code>()``. E-mail bodies are QWeb (``object`` is the target
    record) and end with the ``/unsubscribe_from_list`` link that mass_mailing replaces
    by each recipient's own unsubscribe link.
    """

    _inherit = "marketing.scenario"

    # ------------------------------------------------------------
    # Catalogue
    # ------------------------------------------------------------

    @api.model
    def _scenario_templates(self):
        """The templates of the picker: list of dicts ``code``, ``name``, ``description``,
        ``model`` (target model; the template is offered only if it is installed)."""
        _ = self.env._
        return [
            {
                "code": "welcome",
                "name": _("Welcome series"),
                "description": _(
                    "New contacts get a welcome e-mail at once, a reminder 3 days later if "
                    "they did not open it, and your best content a week later."
                ),
                "model": "res.partner",
            },
            {
                "code": "onboarding",
                "name": _("Onboarding"),
                "description": _(
                    "After signing up: a getting-started e-mail, tips two days later, a call "
                    "from the salesperson if nothing was clicked after 5 days, and a check-in "
                    "after two weeks."
                ),
                "model": "res.partner",
            },
            {
                "code": "birthday",
                "name": _("Birthday"),
                "description": _(
                    "Every year on the contact's birthday (its 'Birth date'), at 9:00 in its "
                    "time zone: a birthday e-mail with a gift."
                ),
                "model": "res.partner",
            },
            {
                "code": "reengagement",
                "name": _("Re-engagement of inactive contacts"),
                "description": _(
                    "90 days after a contact's last engagement (an open, a click, an order... "
                    "that a score rule rewards): a 'we miss you' e-mail, a last call if it "
                    "is ignored, and a tag telling who came back and who stays inactive."
                ),
                "model": "res.partner",
            },
            {
                "code": "hot_lead",
                "name": _("Hot lead follow-up"),
                "description": _(
                    "When a contact's score reaches the hot band: tag it and schedule a call "
                    "for its salesperson (or the scenario's responsible)."
                ),
                "model": "res.partner",
            },
        ]

    @api.model
    def _available_templates(self):
        return [t for t in self._scenario_templates() if t["model"] in self.env]

    @api.model
    def _create_from_template(self, code, start=False):
        """Create the scenario of template ``code`` (draft, or started if ``start``)."""
        if code not in {t["code"] for t in self._available_templates()}:
            raise UserError(self.env._("Unknown scenario template: %s", code))
        # Templates are our code, not user input: a marketer may build from them without
        # the rights of a mail template editor (the bodies hold QWeb placeholders) or of
        # a contact-tag creator. Editing the result afterwards follows Odoo's rights.
        self.check_access("create")
        scenario = getattr(self.sudo(), f"_template_{code}")().with_env(self.env)
        if start:
            scenario.action_start()
        return scenario

    # ------------------------------------------------------------
    # Building blocks
    # ------------------------------------------------------------

    @api.model
    def _template_trigger_values(
        self, trigger, model="res.partner", date_field=None, offset=0, offset_unit="days"
    ):
        """Scenario values of an entry trigger and its parameters.

        :param date_field: date/anniversary triggers: name of the date field of ``model``
        :param offset: signed offset from the date (e.g. -3 = three days before)
        """
        values = {"trigger": trigger}
        if trigger in ("date", "anniversary"):
            values.update(
                date_field_id=self.env["ir.model.fields"]._get(model, date_field).id,
                trigger_offset=offset,
                trigger_offset_unit=offset_unit,
            )
        elif trigger == "signup":
            values["signup_source"] = "account"
        return values

    @api.model
    def _template_mail_html(self, title, paragraphs, button=None, greeting="object.name"):
        """An e-mail body in QWeb: greeting with the contact's name, paragraphs, an
        optional button (label, url; a url starting with ``object.`` is a QWeb expression)
        and the unsubscribe link.

        :param greeting: QWeb expression of the name to greet (``object.partner_id.name``
            for an order)
        """
        _ = self.env._
        parts = [
            Markup('<div style="%s">') % MAIL_STYLE,
            Markup("<h2>%s</h2>") % title,
            Markup("<p>%s <t t-out=\"%s or ''\"/>,</p>") % (_("Hello"), greeting),
        ]
        parts += [Markup("<p>%s</p>") % paragraph for paragraph in paragraphs]
        if button:
            label, url = button
            # a URL starting with "object." is a QWeb expression (e.g. a portal link)
            attribute = "t-att-href" if url.startswith("object.") else "href"
            parts.append(
                Markup('<p style="margin:24px 0;"><a %s="%s" style="%s">%s</a></p>')
                % (Markup(attribute), url, BUTTON_STYLE, label)
            )
        parts.append(
            Markup(
                '<p style="%s">%s <a href="/unsubscribe_from_list" style="color:#888;">%s</a></p>'
            )
            % (FOOTER_STYLE, _("Not interested any more?"), _("Unsubscribe"))
        )
        parts.append(Markup("</div>"))
        return Markup("").join(parts)

    @api.model
    def _template_tag(self, name):
        """The contact tag ``name``, created if missing."""
        # sudo: a marketer may build from templates without the right to create tags
        Tag = self.env["res.partner.category"].sudo()
        tag = Tag.search([("name", "=", name)], limit=1) or Tag.create({"name": name})
        return tag.with_env(self.env)

    @api.model
    def _template_has_coupon(self):
        """Whether the ready-made e-mails can give a real coupon (no side effect: the
        template list reads it)."""
        return False

    @api.model
    def _template_coupon(self):
        """A real single-use coupon for the ready-made e-mails: ``None`` here (no coupon
        step then); the loyalty bridge returns ``{"step": step values, "code": QWeb of the
        contact's code}`` with a coupon program of Odoo's loyalty app."""
        return None

    @api.model
    def _template_create(self, values, steps):
        """Create a draft scenario and its tree of steps.

        :param values: values of the scenario (``model`` = target model name)
        :param steps: list of step dicts; ``mail`` = (subject, body) creates the e-mail,
            ``children`` = the next steps, other keys are ``marketing.scenario.step``
            values
        """
        values = dict(values)
        model = self.env["ir.model"]._get(values.pop("model", "res.partner"))
        scenario = self.create(dict(values, model_id=model.id, state="draft"))
        self._template_create_steps(scenario, steps, parent=None)
        return scenario

    def _template_create_steps(self, scenario, steps, parent):
        for sequence, spec in enumerate(steps, start=1):
            spec = dict(spec)
            children = spec.pop("children", [])
            mail = spec.pop("mail", None)
            vals = {
                "scenario_id": scenario.id,
                "parent_id": parent.id if parent else False,
                "sequence": sequence * 10,
                **spec,
            }
            if mail:
                subject, body = mail
                # sudo: the bodies hold QWeb placeholders written by us, not by the user;
                # editing them afterwards follows Odoo's template-editor rights.
                vals["mailing_id"] = (
                    self.env["marketing.scenario.step"]
                    .sudo()
                    ._new_mailings([(scenario, f"{scenario.name}: {spec['name']}", subject, body)])
                    .id
                )
                vals.setdefault("action_type", "mail")
            step = self.env["marketing.scenario.step"].create(vals)
            self._template_create_steps(scenario, children, step)

    # ------------------------------------------------------------
    # Templates
    # ------------------------------------------------------------

    @api.model
    def _template_welcome(self):
        _ = self.env._
        mail = self._template_mail_html
        return self._template_create(
            {
                "name": _("Welcome series"),
                **self._template_trigger_values("create"),
                "domain": "[('email', '!=', False), ('is_company', '=', False)]",
                "reentry": "never",
            },
            [
                {
                    "name": _("Welcome"),
                    "mail": (
                        _("Welcome aboard!"),
                        mail(
                            _("Welcome aboard!"),
                            [
                                _(
                                    "Thank you for joining us. Here is what you can expect: "
                                    "useful news, no spam, and you can leave at any time."
                                ),
                            ],
                            button=(_("Discover us"), "/"),
                        ),
                    ),
                    "children": [
                        {
                            "name": _("Welcome reminder"),
                            "trigger_type": "mail_not_open",
                            "delay": 3,
                            "delay_unit": "days",
                            "mail": (
                                _("In case you missed it"),
                                mail(
                                    _("In case you missed it"),
                                    [
                                        _(
                                            "We sent you a welcome message a few days ago. Here "
                                            "it is again, with everything you need to start."
                                        )
                                    ],
                                    button=(_("Get started"), "/"),
                                ),
                            ),
                        },
                        {
                            "name": _("Best content"),
                            "delay": 7,
                            "delay_unit": "days",
                            "mail": (
                                _("Our most popular content"),
                                mail(
                                    _("Our most popular content"),
                                    [_("Here is what other people liked most this month.")],
                                    button=(_("Read more"), "/"),
                                ),
                            ),
                        },
                    ],
                }
            ],
        )

    @api.model
    def _template_onboarding(self):
        _ = self.env._
        mail = self._template_mail_html
        return self._template_create(
            {
                "name": _("Onboarding"),
                **self._template_trigger_values("signup"),
                "domain": "[('email', '!=', False)]",
                "reentry": "never",
            },
            [
                {
                    "name": _("Getting started"),
                    "mail": (
                        _("Your first steps"),
                        mail(
                            _("Your first steps"),
                            [
                                _(
                                    "Your account is ready. Three things to do first: complete "
                                    "your profile, explore the catalogue, and tell us what you "
                                    "need."
                                )
                            ],
                            button=(_("Open my account"), "/my"),
                        ),
                    ),
                    "children": [
                        {
                            "name": _("Tips"),
                            "delay": 2,
                            "delay_unit": "days",
                            "mail": (
                                _("Three tips to get more out of it"),
                                mail(
                                    _("Three tips to get more out of it"),
                                    [
                                        _(
                                            "Customers who follow these tips save time from the "
                                            "first week."
                                        )
                                    ],
                                    button=(_("See the tips"), "/"),
                                ),
                            ),
                        },
                        {
                            "name": _("Offer help"),
                            "trigger_type": "mail_not_click",
                            "delay": 5,
                            "delay_unit": "days",
                            "action_type": "activity",
                            "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                            "activity_summary": _("Offer help with the first steps"),
                            "activity_days": 1,
                        },
                        {
                            "name": _("Check-in"),
                            "delay": 14,
                            "delay_unit": "days",
                            "mail": (
                                _("How is it going?"),
                                mail(
                                    _("How is it going?"),
                                    [
                                        _(
                                            "Two weeks already! Reply to this e-mail and tell us "
                                            "how it goes: we read every answer."
                                        )
                                    ],
                                ),
                            ),
                        },
                    ],
                }
            ],
        )

    @api.model
    def _template_birthday(self):
        _ = self.env._
        return self._template_create(
            {
                "name": _("Birthday"),
                **self._template_trigger_values("anniversary", date_field="birthdate"),
                # the anniversary trigger only takes contacts with a birth date: no rule on it
                # here (the domain editor cannot show 'Birth date != False' on a date field)
                "domain": "[('email', '!=', False)]",
                # yearly: a new walk every year (the trigger enters once a year at most)
                "reentry": "always",
            },
            [
                {
                    "name": _("Happy birthday"),
                    "mail": (
                        _("Happy birthday!"),
                        self._template_mail_html(
                            _("Happy birthday!"),
                            [
                                _(
                                    "The whole team wishes you a wonderful day. To celebrate, "
                                    "here is a little gift from us."
                                )
                            ],
                            button=(_("Get my gift"), "/"),
                        ),
                    ),
                }
            ],
        )

    @api.model
    def _template_reengagement(self):
        _ = self.env._
        mail = self._template_mail_html
        back = self._template_tag(_("Re-engaged"))
        inactive = self._template_tag(_("Inactive"))
        return self._template_create(
            {
                "name": _("Re-engagement"),
                **self._template_trigger_values(
                    "date", date_field="marketing_last_engagement", offset=90
                ),
                "domain": "[('email', '!=', False), ('marketing_last_engagement', '!=', False)]",
                "reentry": "delay",
                "reentry_days": 90,
            },
            [
                {
                    "name": _("We miss you"),
                    "mail": (
                        _("We miss you"),
                        mail(
                            _("We miss you"),
                            [_("It has been a while! Here is what is new since your last visit.")],
                            button=(_("See what's new"), "/"),
                        ),
                    ),
                    "children": [
                        {
                            "name": _("Came back"),
                            "trigger_type": "mail_click",
                            "delay": 14,
                            "delay_unit": "days",
                            "action_type": "tag_add",
                            "tag_ids": [(6, 0, back.ids)],
                        },
                        {
                            "name": _("Last call"),
                            "trigger_type": "mail_not_open",
                            "delay": 7,
                            "delay_unit": "days",
                            "mail": (
                                _("Should we stay in touch?"),
                                mail(
                                    _("Should we stay in touch?"),
                                    [
                                        _(
                                            "We do not want to fill your inbox. Tell us if you "
                                            "still want to hear from us; otherwise, you can "
                                            "unsubscribe below."
                                        )
                                    ],
                                    button=(_("Yes, keep me posted"), "/"),
                                ),
                            ),
                            "children": [
                                {
                                    "name": _("Still inactive"),
                                    "trigger_type": "mail_not_click",
                                    "delay": 7,
                                    "delay_unit": "days",
                                    "action_type": "tag_add",
                                    "tag_ids": [(6, 0, inactive.ids)],
                                },
                            ],
                        },
                    ],
                }
            ],
        )

    @api.model
    def _template_hot_lead(self):
        _ = self.env._
        hot = self.env["res.partner"]._marketing_score_thresholds()[1]
        tag = self._template_tag(_("Hot lead"))
        return self._template_create(
            {
                "name": _("Hot lead follow-up"),
                **self._template_trigger_values("score"),
                "score_threshold": hot,
                "domain": "[]",
                "reentry": "delay",
                "reentry_days": 30,
            },
            [
                {
                    "name": _("Tag hot lead"),
                    "action_type": "tag_add",
                    "tag_ids": [(6, 0, tag.ids)],
                },
                {
                    "name": _("Call the hot lead"),
                    "action_type": "activity",
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                    "activity_summary": _("Hot lead: call now"),
                    "activity_note": Markup("<p>%s</p>")
                    % _(
                        "This contact's score just reached the hot band: see its score "
                        "history for what it did."
                    ),
                    "activity_days": 1,
                },
            ],
        )
