// The logger the layers below http/ write to: pino's interface (Fastify's request and
// app loggers are pino loggers), so they log without depending on Fastify.
type LogFn = {
  (object: object, message?: string): void;
  (message: string): void;
};

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}
