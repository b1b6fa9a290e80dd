import { registry } from "@web/core/registry";
import { hierarchyView } from "@web_hierarchy/hierarchy_view";

import { ScenarioStepHierarchyModel } from "./scenario_step_hierarchy_model";
import { ScenarioStepHierarchyRenderer } from "./scenario_step_hierarchy_renderer";

export const scenarioStepHierarchyView = {
    ...hierarchyView,
    Model: ScenarioStepHierarchyModel,
    Renderer: ScenarioStepHierarchyRenderer,
};

registry.category("views").add("marketing_scenario_step_hierarchy", scenarioStepHierarchyView);
