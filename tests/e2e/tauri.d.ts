// The capability tauri-driver reads (https://v2.tauri.app/develop/tests/webdriver/).
declare namespace WebdriverIO {
  interface Capabilities {
    'tauri:options'?: {
      /** The app binary to start. */
      application: string;
      /** Arguments for it. */
      args?: string[];
    };
  }
}
