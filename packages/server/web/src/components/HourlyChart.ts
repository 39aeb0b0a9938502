/**
 * Bars of one value per hour over the last 24 hours, as inline SVG with a text alternative
 * (a table the screen reader reads, visually hidden).
 */
import { html } from "../html.js"

export interface Bucket {
  /** Epoch millis of the hour's start. */
  readonly hour: number
  readonly value: number
}

export const HourlyChart = (
  { label, buckets, format }: {
    readonly label: string
    readonly buckets: ReadonlyArray<Bucket>
    readonly format: (n: number) => string
  }
) => {
  const width = 480
  const height = 140
  const pad = 22
  const max = Math.max(0, ...buckets.map((b) => b.value))
  const n = Math.max(buckets.length, 1)
  const bar = (width - pad) / n
  const id = label.toLowerCase().replace(/[^a-z0-9]+/g, "-")
  return html`
    <figure class="chart" aria-labelledby=${`${id}-caption`}>
      <figcaption id=${`${id}-caption`}>${label} <span class="muted">(last 24 h, peak ${
    format(max)
  })</span></figcaption>
      <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`${label} per hour`}>
        <line x1=${pad} y1=${height - pad} x2=${width} y2=${height - pad} class="axis" />
        ${
    buckets.map((b, i) => {
      const h = max === 0 ? 0 : ((height - 2 * pad) * b.value) / max
      const x = pad + i * bar + 1
      return html`<rect x=${x} y=${height - pad - h} width=${Math.max(bar - 2, 1)} height=${h} class="bar">
          <title>${new Date(b.hour).getHours()}:00 ${format(b.value)}</title>
        </rect>`
    })
  }
        ${
    buckets.length > 0
      ? html`<text x=${pad} y=${height - 6} class="tick">${new Date(buckets[0]!.hour).getHours()}:00</text>
          <text x=${width} y=${height - 6} class="tick" text-anchor="end">${
        new Date(buckets[buckets.length - 1]!.hour).getHours()
      }:00</text>`
      : null
  }
      </svg>
      <table class="visually-hidden">
        <caption>${label} per hour</caption>
        <tbody>${
    buckets.map((b) =>
      html`<tr><th scope="row">${new Date(b.hour).toLocaleTimeString()}</th><td>${format(b.value)}</td></tr>`
    )
  }</tbody>
      </table>
    </figure>
  `
}
