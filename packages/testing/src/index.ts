export * from "./services.js"
export * from "./spans.js"
