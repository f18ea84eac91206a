/** A hand-drawn SVG line chart (no library): one or two series over time, with the peak as its scale. */
import { bytes } from './util.js'

interface Series { label: string, values: number[], class: string }

export function Chart ({ title, series, unit }: { title: string, series: Series[], unit: 'bytes' | 'count' }) {
  const w = 600
  const h = 140
  const n = Math.max(2, ...series.map(s => s.values.length))
  const peak = Math.max(0, ...series.flatMap(s => s.values))
  const top = peak === 0 ? 1 : peak * 1.1
  const fmt = (v: number): string => unit === 'bytes' ? `${bytes(v)}/s` : `${v.toFixed(v < 10 ? 2 : 0)}/s`
  const points = (vs: number[]): string => {
    const values = vs.length === 1 ? [vs[0], vs[0]] : vs // one sample: a flat line across
    return values.map((v, i) => `${((i + n - values.length) / (n - 1)) * w},${h - (v / top) * h}`).join(' ')
  }
  const last = series.map(s => `${s.label} ${fmt(s.values[s.values.length - 1] ?? 0)}`).join(' · ')
  return (
    <figure class='chart'>
      <figcaption><strong>{title}</strong> <span class='muted'>now: {last}; peak {fmt(peak)}</span></figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio='none' role='img' aria-label={`${title}: ${last}`}>
        <line x1='0' y1={h - 0.5} x2={w} y2={h - 0.5} class='axis' />
        <line x1='0' y1={h / 2} x2={w} y2={h / 2} class='grid' />
        {series.map(s => s.values.length > 0 && <polyline key={s.label} points={points(s.values)} class={`line ${s.class}`} fill='none' vector-effect='non-scaling-stroke' />)}
      </svg>
      <div class='legend'>{series.map(s => <span key={s.label}><i class={`swatch ${s.class}`} />{s.label}</span>)}<span class='muted'>last hour</span></div>
    </figure>
  )
}
