import { Component, onWillStart, onMounted, onWillUnmount, onPatched, useRef } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { getColor } from "@web/core/colors/colors";

const SERIES = [
    ["sent", () => _t("Sent"), 0],
    ["opened", () => _t("Opened"), 1],
    ["clicked", () => _t("Clicked"), 2],
    ["converted", () => _t("Converted"), 3],
];

/**
 * A small line chart of a step's last 30 days (sent, opened, clicked, converted per day),
 * drawn with the Chart.js that Odoo ships (the web.chartjs_lib bundle, as the graph view).
 * Series that stay at zero are left out; with nothing at all, a short text says so.
 */
export class TrendChartField extends Component {
    static template = "trigger_marketing.TrendChartField";
    static props = { ...standardFieldProps, height: { type: Number, optional: true } };

    setup() {
        this.canvasRef = useRef("canvas");
        this.chart = null;
        onWillStart(() => loadBundle("web.chartjs_lib"));
        onMounted(() => this.renderChart());
        onPatched(() => this.renderChart());
        onWillUnmount(() => this.chart?.destroy());
    }

    get trend() {
        return this.props.record.data[this.props.name] || { days: [] };
    }

    get datasets() {
        const trend = this.trend;
        return SERIES.filter(([key]) => (trend[key] || []).some((count) => count > 0)).map(
            ([key, label, color]) => ({
                label: label(),
                data: trend[key],
                borderColor: getColor(color, "light", "odoo"),
                backgroundColor: getColor(color, "light", "odoo"),
                borderWidth: 1.5,
                pointRadius: 0,
                tension: 0.3,
            })
        );
    }

    get isEmpty() {
        return !this.datasets.length;
    }

    get total() {
        const trend = this.trend;
        return Object.fromEntries(
            SERIES.map(([key]) => [key, (trend[key] || []).reduce((a, b) => a + b, 0)])
        );
    }

    renderChart() {
        this.chart?.destroy();
        this.chart = null;
        if (this.isEmpty || !this.canvasRef.el) {
            return;
        }
        this.chart = new Chart(this.canvasRef.el, {
            type: "line",
            data: { labels: this.trend.days, datasets: this.datasets },
            options: {
                animation: false,
                maintainAspectRatio: false,
                plugins: {
                    legend: { display: true, position: "bottom", labels: { boxWidth: 8, font: { size: 9 } } },
                    tooltip: { intersect: false, mode: "index" },
                },
                scales: {
                    x: { display: false },
                    y: { display: false, beginAtZero: true },
                },
            },
        });
    }
}

export const trendChartField = {
    component: TrendChartField,
    supportedTypes: ["json"],
    extractProps: ({ attrs }) => ({ height: attrs.height ? parseInt(attrs.height) : undefined }),
};

registry.category("fields").add("tm_trend_chart", trendChartField);
