/** Reading a Grafana dashboard's queries for tests: every panel target and annotation expression. */
interface Target {
  expr?: string;
}
interface Dashboard {
  panels: { title: string; targets?: Target[] }[];
  annotations?: { list: { name: string; expr?: string }[] };
}

export function dashboardQueries(dashboard: Dashboard): { title: string; expr: string }[] {
  const panelQueries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).filter((t) => t.expr).map((t) => ({ title: panel.title, expr: t.expr! })));
  const annotationQueries = (dashboard.annotations?.list ?? []).filter((a) => a.expr).map((a) => ({ title: `annotation ${a.name}`, expr: a.expr! }));
  return [...panelQueries, ...annotationQueries];
}

/** Grafana's `$name` / `${name}` template variables replaced by concrete values. */
export function substituteVariables(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => values[(braced ?? bare)!] ?? whole);
}
