import { Component, onWillStart, onWillUpdateProps, useState } from "@odoo/owl";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

const STATE_ICONS = {
    done: "fa-check-circle text-success",
    scheduled: "fa-clock-o text-info",
    waiting: "fa-hourglass-half text-info",
    skipped: "fa-minus-circle text-muted",
    failed: "fa-exclamation-circle text-danger",
    canceled: "fa-times-circle text-muted",
};

const WALK_BADGES = {
    running: "text-bg-info",
    completed: "text-bg-secondary",
    converted: "text-bg-success",
    exited: "text-bg-light",
    canceled: "text-bg-light",
};

/** The scenarios a contact walked, and each step of each walk, in date order. */
export class MarketingTimeline extends Component {
    static template = "trigger_marketing.MarketingTimeline";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ walks: [], loaded: false });
        onWillStart(() => this.load(this.props.record.resId));
        onWillUpdateProps((nextProps) => {
            if (nextProps.record.resId !== this.props.record.resId) {
                return this.load(nextProps.record.resId);
            }
        });
    }

    async load(partnerId) {
        this.state.walks = partnerId
            ? await this.orm.call("res.partner", "get_marketing_timeline", [[partnerId]])
            : [];
        this.state.loaded = true;
    }

    formatDate(value) {
        if (!value) {
            return "";
        }
        const date = deserializeDateTime(value);
        const format = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
        if (date.year !== new Date().getFullYear()) {
            format.year = "numeric";
        }
        return date.toLocaleString(format);
    }

    stateIcon(step) {
        return STATE_ICONS[step.state] || "fa-circle-o";
    }

    walkBadge(walk) {
        return WALK_BADGES[walk.state] || "text-bg-light";
    }

    openScenario(walk) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "marketing.scenario",
            res_id: walk.scenario_id,
            views: [[false, "form"]],
        });
    }

    openWalk(walk) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "marketing.scenario.participant",
            res_id: walk.id,
            views: [[false, "form"]],
        });
    }
}

registry.category("view_widgets").add("marketing_timeline", { component: MarketingTimeline });
