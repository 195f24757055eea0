"""The report's stylesheet (a Python string, so it ships with the package without data files)."""

CSS = """
:root { --bg:#f5f6f8; --card:#fff; --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb;
  --accent:#2f5d8a; --stripe:#fafbfc; --best:#e8f1fa; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; scroll-padding-top: 56px; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header.top { background: #1f3b57; color: #fff; padding: 22px 0 18px; }
header.top h1 { margin: 0; font-size: 24px; font-weight: 600; letter-spacing: .2px; }
header.top .meta { margin: 4px 0 0; color: #c9d6e3; font-size: 13px; }
nav.nav { position: sticky; top: 0; z-index: 10; background: #fff; border-bottom: 1px solid var(--line);
  box-shadow: 0 1px 3px rgba(15,23,42,.06); }
nav.nav .wrap { display: flex; flex-wrap: wrap; gap: 2px; padding-top: 6px; padding-bottom: 6px; }
nav.nav a { color: var(--muted); text-decoration: none; padding: 6px 10px; border-radius: 6px; font-size: 13px; }
nav.nav a:hover { background: var(--bg); color: var(--accent); }
main.wrap { padding-top: 20px; padding-bottom: 8px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; margin-bottom: 20px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
section.card h2 { margin: 0 0 4px; font-size: 18px; font-weight: 600; }
p.lead { margin: 0 0 14px; color: var(--muted); }
h3 { margin: 18px 0 2px; font-size: 14px; font-weight: 600; }
p.note { margin: 0 0 6px; color: var(--muted); font-size: 12px; }
p.empty { color: var(--muted); font-style: italic; margin: 4px 0; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table.data { border-collapse: collapse; width: 100%; font-size: 13px; }
table.data th, table.data td { padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.data th { background: #f0f2f5; font-weight: 600; color: #3e4c59; white-space: normal;
  vertical-align: bottom; line-height: 1.25; }
table.data tbody tr:nth-child(even) { background: var(--stripe); }
table.data tbody tr:hover { background: #eef3f8; }
table.data tbody tr:last-child td { border-bottom: none; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.txt { text-align: left; }
table.data td.long { white-space: normal; min-width: 280px; word-break: break-word; }
td.best { font-weight: 700; background: var(--best); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 8px 24px;
  align-items: start; }
.figure { min-width: 0; overflow: hidden; }
.heatmaps { display: flex; flex-direction: column; gap: 12px; }
.heatmaps .figure { width: 100%; max-width: 900px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--stripe); }
.tile-num { font-size: 24px; font-weight: 600; color: var(--accent); font-variant-numeric: tabular-nums; }
.tile-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
details { margin-top: 10px; }
details summary { cursor: pointer; color: var(--accent); font-weight: 500; }
pre.config { background: #0f1b2a; color: #dbe6f1; padding: 14px 16px; border-radius: 8px; overflow: auto;
  font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; max-height: 480px; margin: 0; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 28px; }
@media print { nav.nav { display: none; } section.card { break-inside: avoid; box-shadow: none; } }
"""
