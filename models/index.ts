/**
 * The model catalog: every metric model by name. The HTTP API (`/api/models/<name>`), the
 * `cockpit metric` command and the boards all look models up here; adding a model to this
 * list is all it takes to serve it.
 */
import { customer } from './customer';
import { customerList } from './customer-list';
import { customerProfile } from './customer-profile';
import { cycleTime } from './cycle-time';
import { deal } from './deal';
import { dealRisk } from './deal-risk';
import { deals } from './deals';
import { forecast } from './forecast';
import { funnel } from './funnel';
import { kpis } from './kpis';
import { leaderboard } from './leaderboard';
import { ltv } from './ltv';
import { options } from './options';
import { paymentList } from './payment-list';
import { pipelineFlow, pipelineFlowDeals } from './pipeline-flow';
import { payments } from './payments';
import { trend } from './trend';
import { winLoss } from './win-loss';

export const catalog = {
  deal,
  deals,
  deal_risk: dealRisk,
  forecast,
  funnel,
  kpis,
  leaderboard,
  options,
  payment_list: paymentList,
  payments,
  trend,
  win_loss: winLoss,
  cycle_time: cycleTime,
  ltv,
  customer,
  customer_list: customerList,
  customer_profile: customerProfile,
  pipeline_flow: pipelineFlow,
  pipeline_flow_deals: pipelineFlowDeals
} as const;

export type CatalogName = keyof typeof catalog;
export const MODEL_NAMES = Object.keys(catalog) as CatalogName[];

export type { Model, ModelContext, ModelQuery, Localized, StageInfo } from './model';
export { scopeSchema, ALL_SCOPE, type Scope } from './common/scope';
