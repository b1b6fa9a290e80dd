"""The Apps page of each addon: Odoo's own rendering of ``static/description/index.html``."""

import os
import re

from odoo.modules.module import get_module_path
from odoo.tests import HttpCase, tagged

ADDONS = (
    "trigger_marketing",
    "trigger_marketing_sale",
    "trigger_marketing_crm",
    "trigger_marketing_website_sale",
    "trigger_marketing_loyalty",
)
IMG_SRC = re.compile(r'<img [^>]*src="([^"]+)"')


@tagged("post_install", "-at_install")
class TestAppsPage(HttpCase):
    def description(self, name):
        module = self.env["ir.module.module"].search([("name", "=", name)])
        self.assertTrue(module, f"{name} is in the list of apps")
        return module.description_html or ""

    def test_every_addon_has_its_page_with_screenshots(self):
        """index.html is what Odoo shows (not the readme's fallback), and its images
        are the addons' screenshots, served by Odoo."""
        core_dir = os.path.join(get_module_path("trigger_marketing"), "static", "description")
        screenshots = {f for f in os.listdir(core_dir) if f.startswith("screenshot_")}
        self.assertTrue(screenshots)
        shown = set()
        for name in ADDONS:
            html = self.description(name)
            self.assertIn('class="oe_slogan"', html, f"{name}: its index.html is shown")
            sources = IMG_SRC.findall(html)
            self.assertTrue(sources, f"{name}: at least one screenshot")
            for src in sources:
                match = re.fullmatch(
                    r"/trigger_marketing/static/description/(screenshot_\w+\.png)", src
                )
                self.assertTrue(match, f"{name}: {src} is one of the screenshots")
                self.assertIn(match[1], screenshots, f"{name}: {src} exists")
                shown.add(match[1])
                response = self.url_open(src)
                self.assertEqual(response.status_code, 200, src)
                self.assertEqual(response.headers["Content-Type"], "image/png", src)
                self.assertEqual(response.content[:8], b"\x89PNG\r\n\x1a\n", src)
        self.assertEqual(shown, screenshots, "every screenshot is on an Apps page")

    def test_core_page_speaks_to_marketers(self):
        html = self.description("trigger_marketing")
        for text in (
            "right moment",
            "lead score",
            "Test a scenario",
            "Ready-made scenarios",
            "running scenario safely",
        ):
            self.assertIn(text, html)
        self.assertEqual(len(IMG_SRC.findall(html)), 5)
