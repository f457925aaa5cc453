/** Using a trained run: load it, detect and crop faces, classify, explain (Grad-CAM), export the web page. */
export * from './faces';
export * from './classify';
export * from './gradcam';
export * from './load';
export * from './detector';
export * from './predict';
export * from './figures';
export * from './web-config';
export * from './web';
export * from './baseline';
