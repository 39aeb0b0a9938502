export * from "./net.js"
export * from "./redis.js"
export * from "./services.js"
export * from "./spans.js"
