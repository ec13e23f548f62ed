/* qdw_ab.c: the AVX2 int8 depthwise kernels (csrc/qdw_avx2.c: pair rows, output rows) of two
 * checkouts over one KxK layer (K 3 unless given; 1 image, pads K / 2, uint8 in and out, zero
 * points 0), rounds
 * alternating, thread CPU time; prints each one's minimum, the median and quartiles of the
 * per-round ratios B/A, and whether the outputs are the same bytes.  qdw.c's driver (its ring
 * of pair rows) replayed here, 1 thread.  Build with benchmarks/qdw_ab.sh.
 * usage: ./qdw_ab C H STRIDE ROUNDS REPS [K]   (e.g. ./qdw_ab 32 112 1 21 20, ./qdw_ab 240 28 1 21 20 5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "quant_internal.h"
void pair_a(const uint8_t *, const uint8_t *, int, const tc_qdw_geom *, int16_t *);
void out_a(const int16_t *const *, const int16_t *, const tc_qdw_geom *, const int32_t *, const float *, const tc_qoutput *, const void *, void *);
void pair_b(const uint8_t *, const uint8_t *, int, const tc_qdw_geom *, int16_t *);
void out_b(const int16_t *const *, const int16_t *, const tc_qdw_geom *, const int32_t *, const float *, const tc_qoutput *, const void *, void *);
static double now(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int gcd(int a,int b){return b?gcd(b,a%b):a;}
typedef void (*pf)(const uint8_t *, const uint8_t *, int, const tc_qdw_geom *, int16_t *);
typedef void (*of)(const int16_t *const *, const int16_t *, const tc_qdw_geom *, const int32_t *, const float *, const tc_qoutput *, const void *, void *);
static int C,H,S,OH,KH=3; static tc_qdw_geom g; static uint8_t *x,*zrow; static int16_t *wp,*ring; static ptrdiff_t relems; static int32_t *bias; static float *scale; static tc_qoutput out;
static void layer(pf P, of O, uint8_t *y){
  long tags[8]={-1,-1,-1,-1,-1,-1,-1,-1}; const int16_t *pr[8];
  for(int oy=0;oy<OH;oy++){
    for(int ky=0;ky<KH;ky++){int iy=oy*S-KH/2+ky; if(iy<0||iy>=H){pr[ky]=NULL;continue;}
      int s=iy%KH; int16_t *row=ring+s*relems; if(tags[s]!=iy){P(x+(size_t)iy*H*C,zrow,0,&g,row);tags[s]=iy;} pr[ky]=row;}
    O(pr,wp,&g,bias,scale,&out,NULL,y+(size_t)oy*g.ow*C);
  }
}
int main(int argc,char**argv){
  C=atoi(argv[1]);H=atoi(argv[2]);S=atoi(argv[3]);int rounds=atoi(argv[4]),reps=atoi(argv[5]);
  if(argc>6)KH=atoi(argv[6]);
  OH=(H+2*(KH/2)-KH)/S+1; int cp=(C+15)/16*16, np=(KH+1)/2;
  g.C=C;g.cp=cp;g.w=H;g.ow=OH;g.pl=KH/2;g.sw=S;g.dw=1;g.KH=KH;g.np=np;g.ustep=gcd(S,2);
  g.cols=((ptrdiff_t)(OH-1)*S+2*(np-1))/g.ustep+1; g.scale_below1=1;
  relems=(g.cols+TC_QDW_OVER*(S/g.ustep))*2*cp;
  ring=aligned_alloc(64,KH*relems*2+64); memset(ring,0,KH*relems*2);
  x=malloc((size_t)H*H*C); zrow=calloc(C,1); srand(1);
  for(size_t i=0;i<(size_t)H*H*C;i++){int v=(rand()%300)-45; x[i]=v<0?0:v>255?255:v;}
  wp=aligned_alloc(64,(size_t)cp*KH*np*2*2+64); int16_t *o=wp;
  for(int cb=0;cb<cp;cb+=16)for(int ky=0;ky<KH;ky++)for(int j=0;j<np;j++)for(int c=cb;c<cb+16;c++)for(int e=0;e<2;e++){int kx=2*j+e;*o++=kx<KH&&c<C?(rand()%255)-127:0;}
  bias=malloc(cp*4);scale=malloc(cp*4);for(int c=0;c<cp;c++){bias[c]=rand()%4000-2000;scale[c]=0.0005f+0.001f*(rand()%100)/100;}
  memset(&out,0,sizeof out);out.type=TC_QOUT_U8;out.zero_point=0;out.lo=0;out.hi=255;out.bias=bias;out.scale=scale;
  size_t ysz=(size_t)OH*OH*C; uint8_t *ya=malloc(ysz),*yb=malloc(ysz);
  layer(pair_a,out_a,ya);layer(pair_b,out_b,yb);
  int same=!memcmp(ya,yb,ysz);
  double ta[200],tb[200],r[200];
  for(int k=0;k<rounds;k++){
    double t=now();for(int i=0;i<reps;i++)layer(pair_a,out_a,ya);ta[k]=(now()-t)/reps*1e6;
    t=now();for(int i=0;i<reps;i++)layer(pair_b,out_b,yb);tb[k]=(now()-t)/reps*1e6; r[k]=tb[k]/ta[k];
  }
  int cmp(const void*a,const void*b){double d=*(double*)a-*(double*)b;return d<0?-1:d>0;}
  double ma=1e9,mb=1e9;for(int k=0;k<rounds;k++){if(ta[k]<ma)ma=ta[k];if(tb[k]<mb)mb=tb[k];}
  qsort(r,rounds,8,cmp);
  printf("C=%d %dx%d s%d k%d: A min %.1f us  B min %.1f us  B/A min %.3f  median ratio %.3f [%.3f-%.3f]  same %d\n",C,H,H,S,KH,ma,mb,mb/ma,r[rounds/2],r[rounds/4],r[rounds-1-rounds/4],same);
  return 0;
}
