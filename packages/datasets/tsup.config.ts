import { library } from '@tinyblocks/tsconfig/tsup';

// ./browser: the entry without Node modules (web pages); shared modules stay one copy
export default library(['src/index.ts', 'src/browser.ts'], { splitting: true });
