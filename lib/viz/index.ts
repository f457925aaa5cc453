/** Plots: plotly figure specs, inline display in tslab notebooks, and self-contained HTML report pages. */
export * from './types';
export * from './figures';
export * from './html';
export * from './show';
export { encodePngRgb, pngDataUrl } from './png';
export * from './samples';
export * from './spread';
export * from './svg';
export * from './dashboard';
