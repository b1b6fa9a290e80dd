import { HierarchyCard } from "@web_hierarchy/hierarchy_card";

export class ScenarioStepHierarchyCard extends HierarchyCard {
    static template = "trigger_marketing.ScenarioStepHierarchyCard";
}
