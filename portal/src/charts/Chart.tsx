/**
 * Small SVG charts drawn by hand (a chart library would weigh more than the portal's pages), each
 * in a figure whose caption says what it shows and whose table gives the same numbers: the table
 * is what screen readers and people who would rather read get, the picture is a summary of it.
 */
import type { ReactNode } from "react";

import { TableScroll } from "../shell/components";

import "./charts.css";

export interface Series {
  /** A CSS class of charts.css: the colour of the series' bars and swatch. */
  kind: "success" | "failure" | "canceled";
  label: string;
}

export interface Column {
  label: string;
  /**
   * One value per series, stacked in the series' order. `null` draws no part; a number draws one,
   * at least a hairline tall, so that a part worth 0 (an attempt answered in under a millisecond)
   * is still seen.
   */
  values: (number | null)[];
}

const WIDTH = 640;
const HEIGHT = 180;
const LEFT = 44;
const BOTTOM = 22;
const TOP = 8;
// The least height of a drawn part, in the viewBox's units.
const HAIRLINE = 2;

/** A round number at or above `value`, for the top of the scale. */
function niceMax(value: number): number {
  if (value <= 0) {
    return 1;
  }
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value) ?? value;
}

/** Stacked bars, one per column; `unit` follows the scale's numbers (e.g. " ms"). */
export function BarChart({
  series,
  columns,
  summary,
  unit = "",
}: {
  series: Series[];
  columns: Column[];
  summary: string;
  unit?: string;
}) {
  const top = niceMax(Math.max(0, ...columns.map((column) => column.values.reduce<number>((sum, value) => sum + (value ?? 0), 0))));
  const plotWidth = WIDTH - LEFT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(columns.length, 1);
  const barWidth = Math.max(1, Math.min(slot * 0.8, 40));
  const y = (value: number) => TOP + plotHeight - (value / top) * plotHeight;
  // The first, middle and last columns are labelled: more would overlap on a narrow screen.
  const labelled = new Set([0, Math.floor((columns.length - 1) / 2), columns.length - 1]);
  return (
    <svg className="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary}>
      {[0, top / 2, top].filter((tick) => Number.isInteger(tick)).map((tick) => (
        <g key={tick}>
          <line className="chart-grid" x1={LEFT} x2={WIDTH} y1={y(tick)} y2={y(tick)} />
          <text className="chart-axis" x={LEFT - 6} y={y(tick) + 4} textAnchor="end">
            {`${tick}${unit}`}
          </text>
        </g>
      ))}
      {columns.map((column, index) => {
        const x = LEFT + index * slot + (slot - barWidth) / 2;
        let base = 0;
        return (
          <g key={index}>
            {column.values.map((value, part) => {
              if (value === null) {
                return null;
              }
              const bottom = y(base);
              base += value;
              const height = Math.max(bottom - y(base), HAIRLINE);
              return (
                <rect
                  key={part}
                  className={`chart-${series[part]?.kind ?? "canceled"}`}
                  x={x}
                  width={barWidth}
                  y={bottom - height}
                  height={height}
                />
              );
            })}
            {labelled.has(index) ? (
              <text className="chart-axis" x={x + barWidth / 2} y={HEIGHT - 6} textAnchor="middle">
                {column.label}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

export function Legend({ series }: { series: Series[] }) {
  return (
    <ul className="chart-legend" aria-hidden="true">
      {series.map((entry) => (
        <li key={entry.kind}>
          <span className={`chart-swatch chart-swatch-${entry.kind}`} />
          {entry.label}
        </li>
      ))}
    </ul>
  );
}

/** A chart with its caption and, behind a disclosure, the table of its numbers. */
export function ChartFigure({
  title,
  caption,
  chart,
  table,
  testId,
}: {
  title: string;
  caption: ReactNode;
  chart: ReactNode;
  table: ReactNode;
  testId: string;
}) {
  return (
    <figure className="chart-figure" data-testid={testId}>
      <figcaption>
        <h3>{title}</h3>
        <p className="muted">{caption}</p>
      </figcaption>
      {chart}
      <details>
        <summary>Show the numbers as a table</summary>
        <TableScroll label={`${title}: table`}>{table}</TableScroll>
      </details>
    </figure>
  );
}
