import { library } from '@tinyblocks/tsconfig/tsup';

export default library();
