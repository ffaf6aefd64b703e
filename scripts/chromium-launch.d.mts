export declare const chromiumPath: string | undefined;
export declare const chromiumArgs: string[];
export declare const chromiumArgsNoWebGPU: string[];
export declare function chromiumLaunchOptions(args?: string[]): { executablePath: string | undefined; args: string[] };
