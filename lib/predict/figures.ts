/** Grad-CAM as plotly figures (notebooks, `affect predict --explain` pages): each face beside its heatmap overlaid on it. */
import * as path from 'node:path';
import { pngDataUrl, writeHtmlPage, type Figure, type PageSection } from '../viz';
import type { ImageResult } from './predict';

export interface ExplainedFace {
  /** size x size x 3 RGB, the face as the model saw it (before any grayscale conversion). */
  rgb: Uint8Array;
  size: number;
  /** size x size values in 0..1. */
  heatmap: Float32Array;
  /** Panel title, e.g. the file and the predicted class. */
  label: string;
  /** The layer the heatmap was computed at. */
  layer?: string;
}

/**
 * One row per face: the face, and the face under its Grad-CAM heatmap (a semi-transparent plotly heatmap, jet colours,
 * whose hover shows the value at each pixel).
 */
export function gradCamFigure(faces: ExplainedFace[], opts: { title?: string; cellSize?: number } = {}): Figure {
  if (faces.length === 0) throw new Error('gradCamFigure: no faces given');
  const cell = opts.cellSize ?? 220;
  const data: Figure['data'] = [];
  const annotations: unknown[] = [];
  const layout: Figure['layout'] = {
    title: { text: opts.title ?? 'Grad-CAM' },
    grid: { rows: faces.length, columns: 2, pattern: 'independent', xgap: 0.05, ygap: 0.12 },
    height: faces.length * (cell + 40) + 80,
    width: 2 * cell + 160,
    margin: { l: 20, r: 20, t: 60, b: 10 },
    annotations,
  };
  faces.forEach((f, i) => {
    const source = pngDataUrl(f.rgb, f.size, f.size);
    for (const col of [0, 1]) {
      const n = 2 * i + col === 0 ? '' : String(2 * i + col + 1);
      data.push({ type: 'image', source, xaxis: `x${n}`, yaxis: `y${n}`, hoverinfo: 'skip' });
      if (col === 1) {
        const z = Array.from({ length: f.size }, (_, y) =>
          Array.from(f.heatmap.subarray(y * f.size, (y + 1) * f.size)),
        );
        data.push({
          type: 'heatmap',
          z,
          zmin: 0,
          zmax: 1,
          colorscale: 'Jet',
          opacity: 0.45,
          showscale: i === 0,
          xaxis: `x${n}`,
          yaxis: `y${n}`,
          hovertemplate: 'x %{x}, y %{y}: %{z:.2f}<extra></extra>',
        });
      }
      layout[`xaxis${n}`] = { visible: false, range: [-0.5, f.size - 0.5] };
      layout[`yaxis${n}`] = { visible: false, range: [f.size - 0.5, -0.5], scaleanchor: `x${n}` };
      annotations.push({
        text:
          col === 0
            ? f.label
            : f.heatmap.every((v) => v === 0)
              ? 'Grad-CAM (empty: no region raised the score)'
              : 'Grad-CAM',
        showarrow: false,
        xref: `x${n} domain`,
        yref: `y${n} domain`,
        x: 0.5,
        y: 1,
        yanchor: 'bottom',
        font: { size: 11 },
      });
    }
  });
  return { data, layout };
}

/** Faces per figure on an explain page, and faces per page: a page stays a few MB however many images were predicted. */
const FACES_PER_FIGURE = 10;
export const EXPLAIN_MAX_FACES = 200;

/**
 * Writes `<dir>/explain.html`: Grad-CAM of the explained faces of `results` (the first EXPLAIN_MAX_FACES) out of
 * `totalFaces` (default: those in `results`); returns the file.
 */
export function writeExplainPage(
  dir: string,
  results: readonly ImageResult[],
  source: string,
  totalFaces?: number,
): string {
  const faces: ExplainedFace[] = [];
  let total = 0;
  for (const r of results) {
    for (const [i, f] of (r.prediction?.faces ?? []).entries()) {
      total++;
      if (!f.explanation || faces.length >= EXPLAIN_MAX_FACES) continue;
      const n = r.prediction!.faces.length;
      faces.push({
        ...f.explanation,
        label: `${path.basename(r.file)}${n > 1 ? ` face ${i + 1}` : ''}: ${f.top[0].label} ${(100 * f.top[0].probability).toFixed(1)}%`,
      });
    }
  }
  const sections: PageSection[] = [
    {
      text:
        `Model: ${source}. Grad-CAM of each face's predicted class at layer ` +
        `${faces[0]?.layer ?? '-'}: red marks the pixels whose evidence raised that class's score ` +
        `most.${(totalFaces ?? total) > faces.length ? ` The first ${faces.length} of ${totalFaces ?? total} faces are shown.` : ''}`,
    },
  ];
  for (let k = 0; k < faces.length; k += FACES_PER_FIGURE)
    sections.push({
      figures: [
        gradCamFigure(faces.slice(k, k + FACES_PER_FIGURE), {
          title: `Faces ${k + 1}-${Math.min(k + FACES_PER_FIGURE, faces.length)}`,
        }),
      ],
    });
  if (faces.length === 0) sections.push({ text: 'No face was found in the given images.' });
  const file = path.join(dir, 'explain.html');
  writeHtmlPage(file, 'affect predict: explanations', sections);
  return file;
}
