export * from "./services.js"
export * from "./spans.js"
export * from "./redis.js"
export * from "./net.js"
