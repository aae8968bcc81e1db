export { type GenerateOptions, type GeneratedC, generateC } from './generate.js';
export { type ExportReport, type NodeReport, EXPORT_REPORT_FORMAT, EXPORT_REPORT_VERSION } from './report.js';
export { EXPORT_KIND, writeExport, type WriteExportOptions } from './write.js';
export { runtimeDir, collectRuntime } from './runtime.js';
export { cIdent, cFloat } from './c-text.js';
